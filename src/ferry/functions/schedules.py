"""Timer schedule state in the store: each occurrence fires once across hosts sharing it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, CursorResult, select, update

from ferry.store.database import Database
from ferry.store.schema import timer_schedules

__all__ = ["ScheduleState", "TimerSchedules"]

_t = timer_schedules


@dataclass(frozen=True)
class ScheduleState:
    schedule: str
    last_run: int | None
    next_run: int


class TimerSchedules:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def get(self, function: str) -> ScheduleState | None:
        def work(conn: Connection) -> ScheduleState | None:
            row = conn.execute(
                select(_t.c.schedule, _t.c.last_run, _t.c.next_run).where(_t.c.function == function)
            ).first()
            return None if row is None else ScheduleState(*row)

        return await self.database.read(work)

    async def reset(self, function: str, schedule: str, next_run: int) -> ScheduleState:
        """Start (or restart, after the schedule changed) from `next_run`."""

        def work(conn: Connection) -> ScheduleState:
            statement = self.database.insert(_t).values(
                function=function, schedule=schedule, last_run=None, next_run=next_run
            )
            conn.execute(
                statement.on_conflict_do_update(
                    index_elements=[_t.c.function],
                    set_={"schedule": schedule, "next_run": next_run},
                )
            )
            row = conn.execute(
                select(_t.c.schedule, _t.c.last_run, _t.c.next_run).where(_t.c.function == function)
            ).one()
            return ScheduleState(*row)

        return await self.database.write(work)

    async def claim(self, function: str, due: int, following: int, now: int) -> bool:
        """Move the schedule past the occurrence `due`; True for the one host that did."""

        def work(conn: Connection) -> bool:
            result: CursorResult[object] = conn.execute(
                update(_t)
                .where(_t.c.function == function, _t.c.next_run == due)
                .values(last_run=now, next_run=following)
            )
            return result.rowcount == 1

        return await self.database.write(work)

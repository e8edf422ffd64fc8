"""The queue service's semantics, written once over the database seam.

Visibility, dequeue counts, pop receipts and expiry all live here, as units of work in
SQLAlchemy Core that both backends run unchanged: `FOR UPDATE SKIP LOCKED` keeps concurrent
consumers apart on PostgreSQL and is left out by SQLite's dialect, where the single writer
already serialises them. Callers validate their arguments' ranges (`ferry.queues.params`).

The message operations are the hot paths, so their statements are prepared once
(`ferry.store.prepared`) and the queue is found by a subquery inside the same statement.

Pop receipts are `ferry.queues.receipts`: a nonce stored on the message plus its row id, so a
delete or update finds its row by primary key and a stale receipt simply matches nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    CursorResult,
    Integer,
    String,
    and_,
    bindparam,
    delete,
    func,
    literal_column,
    select,
    update,
)

from ferry.clock import Clock, system_clock
from ferry.queues import receipts
from ferry.queues.arrivals import Arrivals
from ferry.queues.errors import (
    InvalidQueryParameterValue,
    MessageNotFound,
    QueueAlreadyExists,
    QueueBeingDeleted,
    QueueNotFound,
)
from ferry.queues.models import AccessPolicy, Message, QueueInfo, QueueListing
from ferry.store.database import Database
from ferry.store.prepared import Prepared
from ferry.store.schema import NEVER, queue_messages, queue_service_properties, queues
from ferry.store.signals import QUEUES, signals_for
from ferry.types import JSONObject, Metadata

__all__ = ["QueueStore"]

_m = queue_messages
_q = queues
_MESSAGE_COLUMNS = (
    _m.c.id,
    _m.c.message_id,
    _m.c.inserted_at,
    _m.c.expires_at,
    _m.c.visible_at,
    _m.c.dequeue_count,
    _m.c.receipt_nonce,
    _m.c.body,
)


def _message(row: Sequence[Any]) -> Message:
    """A message from a row of `_MESSAGE_COLUMNS`."""
    row_id, message_id, inserted_at, expires_at, visible_at, dequeue_count, nonce, body = row
    return Message(
        message_id=message_id,
        inserted_at=inserted_at,
        expires_at=expires_at,
        visible_at=visible_at,
        dequeue_count=dequeue_count,
        pop_receipt=receipts.encode(nonce, row_id),
        text=body,
    )


def _same_metadata(left: Metadata, right: Metadata) -> bool:
    """Metadata names are case-insensitive."""
    return {k.lower(): v for k, v in left.items()} == {k.lower(): v for k, v in right.items()}


class QueueStore:
    """Queues and their messages for every account, in one database."""

    def __init__(
        self, database: Database, clock: Clock = system_clock, arrivals: Arrivals | None = None
    ) -> None:
        self.database = database
        self.clock = clock
        self.arrivals = arrivals
        """Consumers in this process to wake when a message becomes visible."""
        self.signals = signals_for(database)
        """How processes sharing the database hear of visible messages."""
        if arrivals is not None:
            arrivals.hear_from(self.signals)

    # -- queues -----------------------------------------------------------------------------

    @staticmethod
    def _require_queue(conn: Connection, account: str, name: str) -> int:
        queue_id = conn.execute(
            select(_q.c.id).where(_q.c.account == account, _q.c.name == name)
        ).scalar()
        if queue_id is None:
            raise QueueNotFound()
        return int(queue_id)

    async def create_queue(self, account: str, name: str, metadata: Metadata) -> bool:
        """True if created; False if it existed with the same metadata (which is no error)."""

        def work(conn: Connection) -> bool:
            inserted = conn.execute(
                self.database.insert(_q)
                .values(
                    account=account,
                    name=name,
                    metadata=metadata,
                    acl=[],
                    created_at=self.clock(),
                )
                .on_conflict_do_nothing()
                .returning(_q.c.id)
            ).first()
            if inserted is not None:
                return True
            existing = conn.execute(
                select(_q.c.metadata).where(_q.c.account == account, _q.c.name == name)
            ).scalar()
            if existing is None:  # deleted by someone else between the two statements
                raise QueueBeingDeleted()
            if not _same_metadata(existing, metadata):
                raise QueueAlreadyExists()
            return False

        return await self.database.write(work)

    async def delete_queue(self, account: str, name: str) -> None:
        def work(conn: Connection) -> None:
            queue_id = self._require_queue(conn, account, name)
            conn.execute(delete(_m).where(_m.c.queue_id == queue_id))
            conn.execute(delete(_q).where(_q.c.id == queue_id))

        await self.database.write(work)

    async def get_queue(self, account: str, name: str) -> QueueInfo:
        """The queue's metadata and approximate number of messages (hidden ones included)."""

        def work(conn: Connection) -> QueueInfo:
            row = conn.execute(
                select(_q.c.id, _q.c.metadata).where(_q.c.account == account, _q.c.name == name)
            ).first()
            if row is None:
                raise QueueNotFound()
            count = conn.execute(
                select(func.count())
                .select_from(_m)
                .where(_m.c.queue_id == row.id, _m.c.expires_at > self.clock())
            ).scalar_one()
            return QueueInfo(name, dict(row.metadata), int(count))

        return await self.database.read(work)

    async def set_metadata(self, account: str, name: str, metadata: Metadata) -> None:
        await self._update_queue(account, name, metadata=metadata)

    async def get_access_policies(self, account: str, name: str) -> list[AccessPolicy]:
        def work(conn: Connection) -> list[AccessPolicy]:
            acl = conn.execute(
                select(_q.c.acl).where(_q.c.account == account, _q.c.name == name)
            ).first()
            if acl is None:
                raise QueueNotFound()
            return [AccessPolicy(**policy) for policy in acl[0]]

        return await self.database.read(work)

    async def set_access_policies(
        self, account: str, name: str, policies: list[AccessPolicy]
    ) -> None:
        acl = [
            {"id": p.id, "start": p.start, "expiry": p.expiry, "permission": p.permission}
            for p in policies
        ]
        await self._update_queue(account, name, acl=acl)

    async def _update_queue(self, account: str, name: str, **values: Any) -> None:
        def work(conn: Connection) -> None:
            result = conn.execute(
                update(_q).where(_q.c.account == account, _q.c.name == name).values(**values)
            )
            if result.rowcount == 0:
                raise QueueNotFound()

        await self.database.write(work)

    async def list_queues(
        self, account: str, *, prefix: str, marker: str, max_results: int, with_metadata: bool
    ) -> QueueListing:
        """Queues in name order from `marker` on; `next_marker` names the first one left out."""

        def work(conn: Connection) -> QueueListing:
            name = _q.c.name.collate(self.database.binary_collation)
            query = select(_q.c.name, _q.c.metadata).where(_q.c.account == account)
            if prefix:
                query = query.where(_q.c.name.startswith(prefix, autoescape=True))
            if marker:
                query = query.where(name >= marker)
            rows = conn.execute(query.order_by(name).limit(max_results + 1)).all()
            listed = [
                QueueInfo(row.name, dict(row.metadata) if with_metadata else {})
                for row in rows[:max_results]
            ]
            next_marker = rows[max_results].name if len(rows) > max_results else None
            return QueueListing(listed, next_marker)

        return await self.database.read(work)

    # -- messages ---------------------------------------------------------------------------

    def put_within(self, conn: Connection, account: str, name: str, text: str, *, ttl: int) -> None:
        """A visible message put inside the caller's transaction (another part's record of
        why it was sent commits with it, or neither does), creating the queue if need be.
        The caller wakes this process's consumers (`arrivals`) once it has committed."""
        try:
            self._put(conn, account, name, text, visibility_timeout=0, ttl=ttl)
        except QueueNotFound:  # nothing was written: the queue is made, and the put made again
            self.ensure_within(conn, account, name)
            self._put(conn, account, name, text, visibility_timeout=0, ttl=ttl)

    def _put(
        self,
        conn: Connection,
        account: str,
        name: str,
        text: str,
        *,
        visibility_timeout: int,
        ttl: int,
    ) -> Any:
        """The put itself, in `conn`'s transaction; returns the new message's row."""
        now = self.clock()
        row = _PUT.first(
            conn,
            account=account,
            name=name,
            message_id=str(uuid.uuid4()),
            body=text,
            inserted_at=now,
            # The service caps a long life at its last date, the one -1 means.
            expires_at=NEVER if ttl == -1 else min(now + ttl * 1000, NEVER),
            visible_at=now + visibility_timeout * 1000,
            receipt_nonce=receipts.new_nonce(),
        )
        if row is None:
            raise QueueNotFound()
        if visibility_timeout == 0:
            self.signals.announce(conn, QUEUES, f"{account}/{name}")
        return row

    def ensure_within(self, conn: Connection, account: str, name: str) -> None:
        """Create the queue inside the caller's transaction unless it exists."""
        conn.execute(
            self.database.insert(_q)
            .values(account=account, name=name, metadata={}, acl=[], created_at=self.clock())
            .on_conflict_do_nothing()
        )

    async def put_message(
        self, account: str, name: str, text: str, *, visibility_timeout: int, ttl: int
    ) -> Message:
        """Add a message, hidden for `visibility_timeout` seconds, living `ttl` seconds (-1:
        forever). The receipt it returns lets the sender update or delete it."""

        def work(conn: Connection) -> Message:
            row = self._put(
                conn, account, name, text, visibility_timeout=visibility_timeout, ttl=ttl
            )
            return _message(row)

        message = await self.database.write(work)
        if self.arrivals is not None and visibility_timeout == 0:
            self.arrivals.notify(account, name)
        return message

    async def get_messages(
        self, account: str, name: str, *, count: int, visibility_timeout: int
    ) -> list[Message]:
        """Receive up to `count` visible messages, hiding them for `visibility_timeout` s."""

        def work(conn: Connection) -> list[Message]:
            now = self.clock()
            claimed = _CLAIM.all(
                conn,
                account=account,
                name=name,
                now=now,
                count=count,
                visible_at=now + visibility_timeout * 1000,
                receipt_nonce=receipts.new_nonce(),
            )
            if not claimed:
                self._require_queue(conn, account, name)
            return [_message(row) for row in sorted(claimed)]

        return await self.database.write(work)

    async def peek_messages(self, account: str, name: str, *, count: int) -> list[Message]:
        """Up to `count` visible messages, changing nothing."""

        def work(conn: Connection) -> list[Message]:
            rows = _PEEK.all(conn, account=account, name=name, now=self.clock(), count=count)
            if not rows:
                self._require_queue(conn, account, name)
            return [_message(row) for row in rows]

        return await self.database.read(work)

    async def delete_message(
        self, account: str, name: str, message_id: str, pop_receipt: str
    ) -> None:
        """Delete with the latest receipt; a stale one finds no message, as in Azure."""
        receipt = receipts.decode(pop_receipt)

        def work(conn: Connection) -> None:
            if not self._delete(conn, account, name, message_id, receipt):
                self._require_queue(conn, account, name)
                raise MessageNotFound()

        await self.database.write(work)

    def delete_within(
        self, conn: Connection, account: str, name: str, message_id: str, pop_receipt: str
    ) -> bool:
        """Delete inside the caller's transaction (a consumer's record of what the message
        did commits with its removal, or neither does); False if the receipt matches nothing
        (a malformed one included: that must not undo the caller's other writes)."""
        try:
            receipt = receipts.decode(pop_receipt)
        except InvalidQueryParameterValue:
            return False
        return self._delete(conn, account, name, message_id, receipt)

    def _delete(
        self, conn: Connection, account: str, name: str, message_id: str, receipt: tuple[int, int]
    ) -> bool:
        nonce, row_id = receipt
        deleted = _DELETE.rowcount(
            conn,
            account=account,
            name=name,
            message_id=message_id,
            row_id=row_id,
            nonce=nonce,
            now=self.clock(),
        )
        return bool(deleted)

    async def update_message(
        self,
        account: str,
        name: str,
        message_id: str,
        pop_receipt: str,
        *,
        visibility_timeout: int,
        text: str | None,
    ) -> Message:
        """Hide the message for `visibility_timeout` s from now and, if given, replace its text;
        the message gets a new pop receipt and the old one stops working."""
        nonce, row_id = receipts.decode(pop_receipt)

        def work(conn: Connection) -> Message:
            now = self.clock()
            matches = {
                "account": account,
                "name": name,
                "message_id": message_id,
                "row_id": row_id,
                "nonce": nonce,
                "now": now,
                "visible_at": now + visibility_timeout * 1000,
                "new_nonce": receipts.new_nonce(),
            }
            if text is None:
                row = _UPDATE_VISIBILITY.first(conn, **matches)
            else:
                row = _UPDATE_TEXT.first(conn, body=text, **matches)
            if row is None:
                self._require_queue(conn, account, name)
                raise MessageNotFound()
            if visibility_timeout == 0:
                self.signals.announce(conn, QUEUES, f"{account}/{name}")
            return _message(row)

        message = await self.database.write(work)
        if self.arrivals is not None and visibility_timeout == 0:
            self.arrivals.notify(account, name)
        return message

    async def move_message(
        self, account: str, source: str, message_id: str, target: str, *, ttl: int
    ) -> bool:
        """Take an unexpired message off `source` by its id and put its text on `target` as a
        new visible message (dequeue count 0), in one transaction: an operator's replay of a
        poisoned message, which is never on both queues nor lost between them. False when
        `source` holds no such message (already replayed, expired, or never there)."""

        def work(conn: Connection) -> bool:
            now = self.clock()
            queue_id = self._require_queue(conn, account, source)
            taken = conn.execute(
                delete(_m)
                .where(
                    _m.c.queue_id == queue_id,
                    _m.c.message_id == message_id,
                    _m.c.expires_at > now,
                )
                .returning(_m.c.body)
            ).scalar()
            if taken is None:
                return False
            self.put_within(conn, account, target, str(taken), ttl=ttl)
            return True

        moved = await self.database.write(work)
        if moved and self.arrivals is not None:
            self.arrivals.notify(account, target)
        return moved

    async def clear_messages(self, account: str, name: str) -> int:
        def work(conn: Connection) -> int:
            queue_id = self._require_queue(conn, account, name)
            result: CursorResult[Any] = conn.execute(delete(_m).where(_m.c.queue_id == queue_id))
            return int(result.rowcount)

        return await self.database.write(work)

    async def purge_expired(self, *, limit: int = 1000) -> int:
        """Delete up to `limit` expired messages; callers repeat while it returns `limit`."""

        def work(conn: Connection) -> int:
            expired = (
                select(_m.c.id)
                .where(_m.c.expires_at <= self.clock())
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            result = conn.execute(delete(_m).where(_m.c.id.in_(expired.scalar_subquery())))
            return int(result.rowcount)

        return await self.database.write(work)

    # -- service ----------------------------------------------------------------------------

    async def get_service_properties(self, account: str) -> JSONObject | None:
        def work(conn: Connection) -> JSONObject | None:
            value = conn.execute(
                select(queue_service_properties.c.properties).where(
                    queue_service_properties.c.account == account
                )
            ).scalar()
            return dict(value) if value is not None else None

        return await self.database.read(work)

    async def set_service_properties(self, account: str, properties: JSONObject) -> None:
        def work(conn: Connection) -> None:
            table = queue_service_properties
            conn.execute(
                self.database.insert(table)
                .values(account=account, properties=properties)
                .on_conflict_do_update(
                    index_elements=[table.c.account], set_={"properties": properties}
                )
            )

        await self.database.write(work)


# -- prepared statements (the hot paths) ---------------------------------------------------

_QUEUE_ID = (
    select(_q.c.id)
    .where(_q.c.account == bindparam("account"), _q.c.name == bindparam("name"))
    .scalar_subquery()
)
_DUE = and_(
    _m.c.queue_id == _QUEUE_ID,
    _m.c.visible_at <= bindparam("now"),
    _m.c.expires_at > bindparam("now"),
)
_RECEIPT_MATCHES = and_(
    _m.c.id == bindparam("row_id"),
    _m.c.message_id == bindparam("message_id"),
    _m.c.queue_id == _QUEUE_ID,
    _m.c.receipt_nonce == bindparam("nonce"),
    _m.c.expires_at > bindparam("now"),
)

_PUT = Prepared(
    _m.insert()
    .from_select(
        [
            _m.c.queue_id,
            _m.c.message_id,
            _m.c.body,
            _m.c.inserted_at,
            _m.c.expires_at,
            _m.c.visible_at,
            _m.c.dequeue_count,
            _m.c.receipt_nonce,
        ],
        select(
            _q.c.id,
            bindparam("message_id", type_=String),
            bindparam("body", type_=String),
            bindparam("inserted_at", type_=BigInteger),
            bindparam("expires_at", type_=BigInteger),
            bindparam("visible_at", type_=BigInteger),
            literal_column("0", Integer),
            bindparam("receipt_nonce", type_=BigInteger),
        ).where(_q.c.account == bindparam("account"), _q.c.name == bindparam("name")),
    )
    .returning(*_MESSAGE_COLUMNS)
)

_CLAIM = Prepared(
    update(_m)
    .where(
        _m.c.id.in_(
            select(_m.c.id)
            .where(_DUE)
            .order_by(_m.c.visible_at, _m.c.id)
            .limit(bindparam("count", type_=Integer))
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
    )
    .values(
        visible_at=bindparam("visible_at", type_=BigInteger),
        dequeue_count=_m.c.dequeue_count + 1,
        receipt_nonce=bindparam("receipt_nonce", type_=BigInteger),
    )
    .returning(*_MESSAGE_COLUMNS)
)

_PEEK = Prepared(
    select(*_MESSAGE_COLUMNS)
    .where(_DUE)
    .order_by(_m.c.visible_at, _m.c.id)
    .limit(bindparam("count", type_=Integer))
)

_DELETE = Prepared(delete(_m).where(_RECEIPT_MATCHES))

_UPDATE_VISIBILITY = Prepared(
    update(_m)
    .where(_RECEIPT_MATCHES)
    .values(
        visible_at=bindparam("visible_at", type_=BigInteger),
        receipt_nonce=bindparam("new_nonce", type_=BigInteger),
    )
    .returning(*_MESSAGE_COLUMNS)
)

_UPDATE_TEXT = Prepared(
    update(_m)
    .where(_RECEIPT_MATCHES)
    .values(
        visible_at=bindparam("visible_at", type_=BigInteger),
        receipt_nonce=bindparam("new_nonce", type_=BigInteger),
        body=bindparam("body", type_=String),
    )
    .returning(*_MESSAGE_COLUMNS)
)

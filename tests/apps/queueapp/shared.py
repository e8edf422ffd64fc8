import azure.functions as func


def describe(msg: func.QueueMessage) -> dict[str, object]:
    """Every property of the message, as the function sees it."""
    return {
        "id": msg.id,
        "body": msg.get_body().decode(),
        "dequeue_count": msg.dequeue_count,
        "insertion_time": msg.insertion_time.isoformat() if msg.insertion_time else None,
        "expiration_time": msg.expiration_time.isoformat() if msg.expiration_time else None,
        "time_next_visible": msg.time_next_visible.isoformat() if msg.time_next_visible else None,
        "pop_receipt": msg.pop_receipt,
    }

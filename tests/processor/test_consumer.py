"""Which deliveries count as handed out before (and so may follow a lost publish)."""

from __future__ import annotations

from processor.consumer import AGAIN_HEADER, handed_out_before


def test_a_first_delivery_is_new_even_with_other_headers() -> None:
    assert not handed_out_before({"redelivered": False}, None)
    assert not handed_out_before({}, {"content-origin": "api"})


def test_a_broker_redelivery_or_a_copy_a_worker_sent_back_was_handed_out_before() -> None:
    assert handed_out_before({"redelivered": True}, None)
    # Copies through a delay queue come back as new deliveries; the header says otherwise.
    assert handed_out_before({"redelivered": False}, {AGAIN_HEADER: 1})
    # Moved back by hand from the dead-letter queue.
    assert handed_out_before({}, {"x-death": [{"count": 1, "reason": "rejected"}]})

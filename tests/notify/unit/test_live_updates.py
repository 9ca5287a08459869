"""The stream's broadcaster: who listens, and a slow listener."""

from services.notify.live_updates import Broadcaster


def test_the_stream_broadcaster_says_whether_anyone_listens_and_drops_the_oldest_for_a_slow_one():
    broadcaster = Broadcaster()
    assert not broadcaster.listening
    queue = broadcaster.subscribe()
    assert broadcaster.listening
    for n in range(1005):
        broadcaster.publish({"n": n})
    assert queue.qsize() == 1000 and queue.get_nowait() == {"n": 5}
    broadcaster.unsubscribe(queue)
    assert not broadcaster.listening

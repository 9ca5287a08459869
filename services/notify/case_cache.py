"""The cases this writer saved lately, as it saved them: a repeat of a case needs no read.

Every weekly report of a continuing problem updates its case, and FerretDB answers each read
by `_id` with a round trip and a conversion of the whole document: a third of the database's
work per report (docs/benchmarks.md). The writer of a case (the notify instance that owns its
partition, alert_changes.py) is the only one that changes it, so what it saved last is what the
store holds, as long as:
- every change of the case in the store is made through the object kept here, or mirrored on
  it (planning's silenced entries are);
- an entry is taken out while it is being changed (`take`) and put back only once saved
  (`keep`): a change that fails leaves nothing behind, and the next one reads the store;
- the writer forgets everything when its partitions move (another instance may write them
  meanwhile) and when its consumer starts again;
- resolved cases are not kept: they are the ones the archiving, which any instance runs,
  moves out of the store.
"""

import threading
from collections import OrderedDict

from services.notify.documents import Alert
from services.notify.metrics import CASE_READS

# A case in memory takes about 15 KiB (measured on the benchmark's cases; its history is folded,
# alerts.KEPT_UPDATES): 2,000 of them about 30 MB.
DEFAULT_SIZE = 2000


class CaseCache:
    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self.size = size
        self._cases: OrderedDict[str, Alert] = OrderedDict()
        self._lock = threading.Lock()  # the cases of a batch are stored side by side in threads

    def take(self, alert_id: str) -> Alert | None:
        """The case as this writer saved it last, taken out until `keep` puts it back."""
        with self._lock:
            return self._cases.pop(alert_id, None)

    def keep(self, alert: Alert) -> None:
        """A case just saved (or found unchanged): the next repeat starts from it."""
        if alert.status == "resolved":
            return
        with self._lock:
            self._cases[alert.alert_id] = alert
            self._cases.move_to_end(alert.alert_id)
            while len(self._cases) > self.size:
                self._cases.popitem(last=False)  # the least recently changed goes

    def forget_all(self) -> None:
        with self._lock:
            self._cases.clear()

    def __len__(self) -> int:
        return len(self._cases)


cases = CaseCache()


def load_case(alert_id: str) -> Alert | None:
    """The stored case: from memory when this writer saved it last, else from the store."""
    kept = cases.take(alert_id)
    if kept is not None:
        CASE_READS.labels("memory").inc()
        return kept
    CASE_READS.labels("database").inc()
    return Alert.objects(alert_id=alert_id).first()

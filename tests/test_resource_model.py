"""One resource model per log (issue 16): codes, pools and pool calendars computed once,
cached on the log, and the same object behind discover_pools, utilization and
discover_calendar(by="pool")."""

from __future__ import annotations

import leanops
from leanops._pools import resource_codes, resource_model, resource_pools
from leanops.calendar import discover_calendar


def _log():
    return leanops.datasets.load("production")


def test_resource_model_is_computed_once_and_matches_its_parts():
    log = _log()
    rm = resource_model(log)
    assert resource_model(log) is rm
    codes, names = resource_codes(log)
    assert rm.names == names and (rm.codes == codes).all()
    # an independent recomputation on a fresh log gives the same pools
    assert rm.pools == resource_pools(_log())
    pools = leanops.discover_pools(log)
    assert dict(zip(pools["resource"], pools["pool"])) == rm.pools
    # another threshold is another model
    assert resource_model(log, threshold=0.5) is not rm


def test_pool_calendars_are_learnt_once_into_the_model():
    log = _log()
    rm = resource_model(log)
    assert rm.calendars is None
    u1 = leanops.utilization(log, calendar="pool")
    learnt = rm.calendars
    assert learnt is not None
    # the same calendars a fresh log learns with explicit pools
    fresh = _log()
    assert {k: str(v) for k, v in learnt.items()} == {
        k: str(v) for k, v in discover_calendar(fresh, by="pool", pools=resource_pools(fresh)).items()}
    assert discover_calendar(log, by="pool").keys() == learnt.keys()
    u2 = leanops.utilization(log, calendar="pool")
    assert rm.calendars is learnt
    assert u1.equals(u2)

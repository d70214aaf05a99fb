from tests.api.test_public import *
def test_dbg(api):
    seed_activity(api)
    print(api.sql("select hour, event_type, events from activity_hourly"))
    print(api.sql("select date_trunc('day', hour, 'UTC') from activity_hourly"))
    r = api.client.get(f"{G}/activity", params={"bucket": "day", "start": "2025-03-09T00:00:00Z", "end": "2025-03-13T00:00:00Z"})
    print(r.json()["points"][:2])

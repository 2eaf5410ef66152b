"""A source's freshness result (dbt's sources.json) as an alert."""

from greenops.alerts import freshness_alert

CRITERIA = {"warn_after": {"count": 26, "period": "hour"}, "error_after": {"count": 50, "period": "hour"}}


def test_stale_data_names_its_newest_time():
    alert = freshness_alert({"unique_id": "source.greenops.raw.gpu_telemetry_samples", "status": "error", "criteria": CRITERIA,
                             "max_loaded_at": "2026-11-10T23:59:59", "max_loaded_at_time_ago_in_s": 72 * 3600})
    assert alert == {"kind": "source_freshness", "subject": "raw.gpu_telemetry_samples", "period": "2026-11-10T23:59:59",
                     "message": "error: newest data 2026-11-10T23:59:59 UTC, 72.0 h old (warn after 26 hours, error after 50 hours)"}


def test_no_row_where_the_check_looked_says_so_instead_of_year_one():
    # an empty table, or on BigQuery nothing in the 7 days of partitions the check reads: dbt says year 1
    alert = freshness_alert({"unique_id": "source.greenops.raw.inference_requests", "status": "error", "criteria": CRITERIA,
                             "max_loaded_at": "0001-01-01T00:00:00+00:00", "max_loaded_at_time_ago_in_s": 6.4e10})
    assert alert["period"] == "" and alert["message"] == "error: no data in the days the check reads (warn after 26 hours, error after 50 hours)"

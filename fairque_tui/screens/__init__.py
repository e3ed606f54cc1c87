"""One screen per view: overview, user, DLQ, workers, schedules, alerts, bench."""

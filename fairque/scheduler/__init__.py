"""The cron scheduler."""

from fairque.core.schedule import MissedRuns, ScheduledTask
from fairque.scheduler.scheduler import ScheduleInfo, TaskScheduler

__all__ = ["MissedRuns", "ScheduleInfo", "ScheduledTask", "TaskScheduler"]

"""The cron scheduler."""

from fairque.core.schedule import MissedRuns, ScheduledTask
from fairque.scheduler.schedule_ops import ScheduleInfo
from fairque.scheduler.scheduler import TaskScheduler

__all__ = ["MissedRuns", "ScheduleInfo", "ScheduledTask", "TaskScheduler"]

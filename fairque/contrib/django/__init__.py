"""fairque as a backend of Django's tasks framework (the ``django`` extra): see
:mod:`fairque.contrib.django.backend` and docs/frameworks.md."""

from fairque.contrib.django.backend import FairQueueBackend, fairque_priority, fairque_user

__all__ = ["FairQueueBackend", "fairque_priority", "fairque_user"]

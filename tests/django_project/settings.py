"""A Django project as the README shows one: fairque as the tasks backend (its Redis URL from
the environment, FAIRQUE_REDIS_URL). Django 6's django.tasks, or the django-tasks backport
before Python 3.12."""

import django

SECRET_KEY = "fairque-tests"
DEBUG = True
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "tests.django_project.urls"
USE_TZ = True
DATABASES: dict[str, object] = {}
INSTALLED_APPS = [
    *(["django_tasks"] if django.VERSION < (6, 0) else []),
    "tests.django_project.shop",
]
TASKS = {
    "default": {
        "BACKEND": "fairque.contrib.django.FairQueueBackend",
        "QUEUES": ["django-shop"],
        "OPTIONS": {"DEFAULT_USER": "web"},
    }
}

from django.urls import path

from tests.django_project.shop import views

urlpatterns = [
    path("add/", views.enqueue_add),
    path("result/<str:result_id>/", views.show_result),
]

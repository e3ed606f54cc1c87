from django.http import HttpRequest, JsonResponse

from fairque.contrib.django import fairque_user
from tests.django_project.shop.tasks import add


def enqueue_add(request: HttpRequest) -> JsonResponse:
    """Enqueue for the customer the request is for: fair between customers."""
    with fairque_user(request.headers.get("X-Customer", "anonymous")):
        result = add.enqueue(int(request.GET["a"]), int(request.GET["b"]))
    return JsonResponse({"id": result.id}, status=202)


def show_result(request: HttpRequest, result_id: str) -> JsonResponse:
    result = add.get_result(result_id)
    value = result.return_value if result.is_finished and not result.errors else None
    return JsonResponse({"status": str(result.status), "value": value})

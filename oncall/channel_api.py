"""API of the "send test" action: POST /api/v1/oncall/channels/<id>/test and
/api/v1/oncall/contact-methods/<id>/test (the caller's own). Same rules as the pages: a team
channel needs the manager role in its team, another team's channel or another person's contact
method is a 404, a read-only token is refused."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import Action, can, team_ids_of
from config.api import token_may_write
from incidents.actors import Actor
from oncall.models import Channel, ContactMethod
from oncall.send_test import send_test_message


class TestMessageResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField(help_text="The service accepted the message.")
    error = serializers.CharField(help_text="What went wrong, in the service's own words.")
    status_code = serializers.IntegerField(allow_null=True, help_text="HTTP status it answered.")
    retry_after = serializers.FloatField(allow_null=True, help_text="Seconds it asked to wait.")


def _answer(result) -> Response:
    return Response(
        {
            "ok": result.ok,
            "error": result.error,
            "status_code": result.status_code,
            "retry_after": result.retry_after,
        }  # fmt: skip
    )


def _writable(request: Request) -> None:
    if not token_may_write(request):
        raise exceptions.PermissionDenied("This API token is read-only.")


@extend_schema(
    operation_id="oncall_channel_test",
    summary="Send a test message to a team channel now",
    request=None,
    responses={200: TestMessageResultSerializer},
    tags=["oncall"],
)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def test_channel(request: Request, pk: int) -> Response:
    channel = Channel.objects.filter(pk=pk, team_id__in=team_ids_of(request.user)).first()
    if channel is None:
        raise exceptions.NotFound("No such channel in your teams.")
    _writable(request)
    if not can(request.user, channel.team_id, Action.CONFIGURE):
        raise exceptions.PermissionDenied("Testing a team channel needs the manager role.")
    return _answer(send_test_message(actor=Actor.of_request(request), channel=channel))


@extend_schema(
    operation_id="oncall_contact_method_test",
    summary="Send a test message to one of your own contact methods now",
    request=None,
    responses={200: TestMessageResultSerializer},
    tags=["oncall"],
)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def test_contact_method(request: Request, pk: int) -> Response:
    method = ContactMethod.objects.filter(pk=pk, user=request.user).first()
    if method is None:
        raise exceptions.NotFound("No such contact method of yours.")
    _writable(request)
    return _answer(send_test_message(actor=Actor.of_request(request), contact_method=method))

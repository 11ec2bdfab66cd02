from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts import tokens
from accounts.actors import Actor
from accounts.models import ApiToken
from accounts.permissions import team_ids_of


@login_required
@require_POST
def switch_team(request: HttpRequest) -> HttpResponse:
    try:
        team_id = int(request.POST.get("team", ""))
    except ValueError:
        raise Http404("unknown team") from None
    if team_id not in team_ids_of(request.user):
        raise Http404("unknown team")
    request.session["team_id"] = team_id
    target = request.POST.get("next", "/")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/"
    return redirect(target)


EXPIRY_CHOICES = [
    ("", "never"),
    ("7", "7 days"),
    ("30", "30 days"),
    ("90", "90 days"),
    ("365", "1 year"),
]


@login_required
def api_tokens(request: HttpRequest) -> HttpResponse:
    """List the user's tokens; POST creates one and shows its plaintext in this response only.

    No redirect after the POST: the plaintext must not pass through the session (stored in the
    database) or a message cookie.
    """
    issued = None
    error = ""
    if request.method == "POST":
        expiry = request.POST.get("expires", "")
        try:
            issued = tokens.create_token(
                user=request.user,
                name=request.POST.get("name", ""),
                read_only=request.POST.get("read_only") == "on",
                expires_in_days=int(expiry) if expiry else None,
                actor=Actor.of_request(request),
            )
        except ValueError:
            error = "Choose an expiry from the list."
        except tokens.TokenError as exc:
            error = str(exc)
    context = {
        "tokens": ApiToken.objects.filter(user=request.user),
        "issued": issued,
        "error": error,
        "expiry_choices": EXPIRY_CHOICES,
        "now": timezone.now(),
    }
    response = render(request, "accounts/tokens.html", context, status=400 if error else 200)
    if issued:
        response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def revoke_api_token(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    tokens.revoke_token(token=token, actor=Actor.of_request(request))
    messages.success(request, f"Token {token.prefix}… ({token.name}) revoked.")
    return redirect("api-tokens")

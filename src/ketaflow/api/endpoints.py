"""The API's operations. Thin: each checks the token's scope, calls the access function of its
record kind (404 for another clinic, 403 for the role), a selector or a service (audited like
the page that shows the same), and returns the record's shape."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import NinjaAPI

from ketaflow.api.auth import TokenAuth, TokenThrottle, api_token
from ketaflow.api.errors import errors, install
from ketaflow.api.schemas import TokenOut

api = NinjaAPI(
    title="KetaFlow API",
    version="1",
    description=(
        "The clinic's records for referring clinicians and other tools. Every call needs a "
        "token (Authorization: Bearer <token>) from `ketaflow api token create` or the user's "
        "API tokens page, scoped by resource and read/write; a token reaches its clinic only, "
        "every call is audited and calls are throttled per token."
    ),
    urls_namespace="api",
    auth=TokenAuth(),
    throttle=[TokenThrottle()],
    openapi_url="/schema/",
    docs_url="/schema/docs/",
)
install(api)


@api.get("/token/", response=errors({200: TokenOut}), tags=["tokens"])
def token_self(request: HttpRequest) -> TokenOut:
    """The calling token: whose, which clinic, its scopes and expiry."""
    token = api_token(request)
    return TokenOut(
        prefix=token.prefix,
        name=token.name,
        user=token.user.username,
        clinic=token.clinic.slug,
        scopes=list(token.scopes),
        expires_at=token.expires_at,
    )

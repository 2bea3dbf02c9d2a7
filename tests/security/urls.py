"""Every URL pattern of the project, from the resolver, for the sweeps that must not miss one."""

from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver

# Django's own admin and language switch are not the project's views; the app's API has its
# own sweep with bearer tokens (tests/api/test_idor.py).
SKIPPED_PREFIXES = ("admin/", "i18n/", "api/")


@dataclass(frozen=True)
class Route:
    name: str  # "namespace:name"
    route: str  # "billing/orders/<str:number>/"
    view: object

    @property
    def has_parameters(self) -> bool:
        return "<" in self.route

    @property
    def is_staff(self) -> bool:
        return self.route.startswith("staff/")


def project_routes() -> list[Route]:
    routes = []

    def walk(patterns, prefix="", namespace=""):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if route.startswith(SKIPPED_PREFIXES):
                continue
            if isinstance(pattern, URLResolver):
                inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                walk(pattern.url_patterns, route, inner)
            elif isinstance(pattern, URLPattern):
                routes.append(Route(name=f"{namespace}{pattern.name}", route=route, view=pattern.callback))

    walk(get_resolver().url_patterns)
    return routes

"""``covers``/``overlaps``, route selection and the policy resource, against brute force.

The oracles enumerate every concrete path of a small universe that is exhaustive for these
templates (see :mod:`tests.property.model`), so the properties below are exact, not sampled:

* ``covers(P, R)`` is True exactly when every path R serves is inside P (an allow never reaches a
  path it does not name: soundness; and never refuses one it does: completeness);
* ``overlaps(P, R)`` is True exactly when some path is inside both (a deny always applies when it
  could: soundness);
* :class:`RouteTable` selects the resource API Gateway selects (most specific, left to right);
* the policy resource of a template (variables as ``*``) matches, with IAM's rules, the method ARN
  of every path the template serves (a cached Allow never refuses its own route), and IAM's ``*``
  crossing ``/`` is why the cache key must pin the template (see the negative control in
  ``test_gateway_equivalence``).
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from edgeauth.core.routes import RouteTable, covers, overlaps, parse_template, template_arn_suffix
from edgeauth_local.iam import glob_match
from tests.property.model import (
    UNIVERSE,
    path_text,
    ref_covers,
    ref_glob,
    ref_overlaps,
    ref_select,
    route_tables,
    segments,
    served,
    template_text,
)
from tests.support.budget import budget

templates = segments().map(template_text)


@budget(300)
@given(templates, templates)
def test_covers_is_exactly_inclusion_of_the_served_paths(permission: str, resource: str) -> None:
    assert covers(parse_template(permission), parse_template(resource)) == ref_covers(permission, resource)


@budget(300)
@given(templates, templates)
def test_overlaps_is_exactly_a_shared_served_path(permission: str, resource: str) -> None:
    assert overlaps(parse_template(permission), parse_template(resource)) == ref_overlaps(
        permission, resource
    )


@budget(100)
@given(templates, templates, templates)
def test_covers_is_transitive_and_implies_overlap(a: str, b: str, c: str) -> None:
    ta, tb, tc = parse_template(a), parse_template(b), parse_template(c)
    if covers(ta, tb) and covers(tb, tc):
        assert covers(ta, tc)
    if covers(ta, tb):
        assert overlaps(ta, tb)
    assert overlaps(ta, tb) == overlaps(tb, ta)


@budget(150)
@given(route_tables, st.sampled_from(UNIVERSE))
def test_route_table_selects_what_api_gateway_selects(routes: list[str], path: tuple[str, ...]) -> None:
    match = RouteTable(routes).match(path_text(path))
    assert (match.template.text if match else None) == ref_select(routes, path)


@budget(150)
@given(templates, st.sampled_from(("GET", "POST", "HEAD")))
def test_the_policy_resource_matches_every_path_its_template_serves(template: str, method: str) -> None:
    prefix = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/"
    resource = prefix + method + template_arn_suffix(parse_template(template))
    for path in served(template):
        arn = prefix + method + path_text(path)
        assert glob_match(resource, arn), (resource, arn)
    # ...and never another method's requests.
    for path in list(served(template))[:5]:
        assert not glob_match(
            resource, prefix + ("DELETE" if method != "DELETE" else "GET") + path_text(path)
        )


_GLOB = st.text(alphabet="ab/*?-:", max_size=10)
_VALUE = st.text(alphabet="ab/-:", max_size=12)


@budget(400)
@given(_GLOB, _VALUE)
def test_iam_wildcards_of_the_local_gateway_agree_with_the_reference_matcher(
    pattern: str, value: str
) -> None:
    assert glob_match(pattern, value) == ref_glob(pattern, value)

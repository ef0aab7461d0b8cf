"""A job's tenant, read from its arq job id (`<tenant>~<client job id>`)."""

import pytest

from jobqueue.store.tenants import is_tenant_name, new_job_id_like, tenant_job_id, tenant_of


def test_a_job_id_without_a_tilde_is_the_system_tenants() -> None:
    assert tenant_of("cron:sweep:1700000000") is None
    assert tenant_of("hello-1") is None


def test_the_tenant_is_what_precedes_the_first_tilde() -> None:
    assert tenant_of("acme~report-7") == "acme"
    assert tenant_of(tenant_job_id("a.b_c-1", "x")) == "a.b_c-1"


def test_an_id_the_api_would_not_make_still_has_a_tenant() -> None:
    # planted ids are some tenant's (capped), never the system tenant's
    assert tenant_of("~x") == ""
    assert tenant_of("not a name~x~y") == "not a name"


@pytest.mark.parametrize("name", ["", "-a", ".a", "a b", "a~b", "a" * 65, "é"])
def test_a_bad_tenant_name_is_refused(name: str) -> None:
    assert not is_tenant_name(name)
    with pytest.raises(ValueError, match="tenant name"):
        tenant_job_id(name, "x")


def test_names_of_up_to_64_characters_are_tenant_names() -> None:
    assert is_tenant_name("a" * 64)
    assert is_tenant_name("A9._-")


def test_a_client_job_id_with_a_tilde_is_refused() -> None:
    with pytest.raises(ValueError, match="client job id"):
        tenant_job_id("acme", "a~b")


def test_a_new_id_like_a_tenants_is_that_tenants_and_new() -> None:
    first, second = new_job_id_like("acme~x"), new_job_id_like("acme~x")
    assert first is not None
    assert tenant_of(first) == "acme"
    assert first != second
    assert new_job_id_like("system-job") is None

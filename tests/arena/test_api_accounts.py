"""Accounts and API keys: issue once, stored hashed, list, revoke; staff creates users."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from arena import models as m
from tests.arena.test_api_common import API, assert_error, client_for, counts

pytest_plugins = ["tests.arena.test_api_common"]
pytestmark = pytest.mark.django_db


def test_me(owner_client, anon):
    assert owner_client.get(f"{API}/accounts/me/").json()["username"] == "owner"
    assert anon.get(f"{API}/accounts/me/").status_code in (401, 403)


def test_issue_list_revoke(owner, owner_client, other_client):
    r = owner_client.post(f"{API}/accounts/keys/", {"name": "ci"}, format="json")
    assert r.status_code == 201
    raw = r.json()["key"]
    key = m.ApiKey.objects.get(pk=r.json()["id"])
    assert raw not in (key.key_hash, key.prefix) and key.key_hash == m.hash_secret(raw)
    listed = owner_client.get(f"{API}/accounts/keys/").json()["results"]
    assert all("key" not in k for k in listed) and len(listed) == 2
    fresh = client_for(None)
    fresh.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    assert fresh.get(f"{API}/accounts/me/").status_code == 200
    # another owner can neither see nor revoke it
    assert_error(other_client.delete(f"{API}/accounts/keys/{key.pk}/"), 404)
    assert owner_client.delete(f"{API}/accounts/keys/{key.pk}/").status_code == 204
    key.refresh_from_db()
    assert key.revoked_at is not None
    r = fresh.get(f"{API}/accounts/me/")
    assert r.status_code == 401 and "revoked" in r.json()["error"]["message"]


def test_bad_keys(anon):
    anon.credentials(HTTP_AUTHORIZATION="Token ludus_nope")
    assert_error(anon.get(f"{API}/models/"), 401)


def test_staff_creates_users(admin_client, owner_client):
    before = counts()
    assert_error(
        owner_client.post(f"{API}/accounts/users/", {"username": "eve"}, format="json"), 403
    )
    assert counts() == before
    r = admin_client.post(
        f"{API}/accounts/users/", {"username": "carol", "email": "c@example.org"}, format="json"
    )
    assert r.status_code == 201, r.content
    raw = r.json()["api_key"]["key"]
    c = client_for(None)
    c.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    assert c.get(f"{API}/accounts/me/").json()["username"] == "carol"
    before = counts()
    assert_error(
        admin_client.post(f"{API}/accounts/users/", {"username": "CAROL"}, format="json"),
        400,
        "invalid",
        "username",
    )
    assert_error(
        admin_client.post(
            f"{API}/accounts/users/", {"username": "dan", "password": "123"}, format="json"
        ),
        400,
        "invalid",
        "password",
    )
    assert counts() == before
    assert admin_client.get(f"{API}/accounts/users/").json()["count"] >= 3


def test_create_api_key_command(capsys):
    call_command("create_api_key", "newbie", "--create", "--name", "cli")
    raw = capsys.readouterr().out.strip().splitlines()[-1]
    assert raw.startswith("ludus_")
    assert m.ApiKey.objects.get(key_hash=m.hash_secret(raw)).user.username == "newbie"
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("create_api_key", "nobody")

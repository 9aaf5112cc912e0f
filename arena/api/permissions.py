"""Permission classes, combined in views with ``&``, ``|`` and ``~``."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission


class IsStaff(BasePermission):
    message = "Only admins (staff users) may do this."

    def has_permission(self, request: Any, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_staff)


class ReadOnly(BasePermission):
    def has_permission(self, request: Any, view: Any) -> bool:
        return request.method in SAFE_METHODS


class IsOwnerOrStaff(BasePermission):
    """Object level: the object's ``owner`` (or ``user``) or an admin."""

    message = "Only the owner of this object or an admin may change it."

    def has_object_permission(self, request: Any, view: Any, obj: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if user.is_staff:
            return True
        owner_id = getattr(obj, "owner_id", None) or getattr(obj, "user_id", None)
        return owner_id is not None and owner_id == user.pk

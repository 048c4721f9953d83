"""Requests: a requester asks partners for data (invitations, capability links, tracking, reminders, the
partner page and its template workbook)."""

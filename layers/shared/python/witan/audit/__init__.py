"""GDPR audit trail: who had access to which data, for what purpose, and where it went.

- `records`: AuditEvent, the AuditTrail port, AuditWriteError (fail closed).
- `chain`: pure hash-chain logic (record bodies, canonical JSON, SHA-256, verification).
- `query`: reading through an injected AuditReader (event pages, usage report, subject export).
- `cli`: `witan audit verify|digest`.
The DynamoDB adapter is witan.aws.audit_table (DynamoAuditTrail, DynamoAuditReader, verify).
"""

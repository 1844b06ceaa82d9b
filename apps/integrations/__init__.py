"""The outside systems rtcc talks to, each behind a small interface chosen in settings:
the object store (S3 or a directory) and push (FCM or a local outbox). Every app may use
this package; it uses no app."""

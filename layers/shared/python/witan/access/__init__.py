"""Access policy: activities, grants and decisions (pure, no AWS)."""

"""Authentication: password hashing, the JWT secret policy, tokens, sessions and principals."""

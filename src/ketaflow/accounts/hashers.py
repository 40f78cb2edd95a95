from django.contrib.auth.hashers import Argon2PasswordHasher


class TestArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2 with the smallest cost, used only when KETAFLOW_ENV=test to keep the suite fast."""

    time_cost = 1
    memory_cost = 1024
    parallelism = 1

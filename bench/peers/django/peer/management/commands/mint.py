"""manage.py mint COUNT: prints COUNT fresh refresh tokens of bench@example.com, one per line.

Each is what a password login would hand out (RefreshToken.for_user also records its
OutstandingToken row), minted without paying for the password hash each time.
"""
import sys

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from rest_framework_simplejwt.tokens import RefreshToken

EMAIL = "bench@example.com"


class Command(BaseCommand):
    help = "Print COUNT fresh refresh tokens of the bench user"

    def add_arguments(self, parser):
        parser.add_argument("count", type=int)

    def handle(self, *args, count, **options):
        call_command("migrate", verbosity=0, interactive=False)
        User = get_user_model()
        user = User.objects.filter(username="bench").first()
        if user is None:
            user = User.objects.create_user("bench", EMAIL, "bench-password")
        out = sys.stdout
        with transaction.atomic():
            for _ in range(count):
                out.write(str(RefreshToken.for_user(user)) + "\n")
        out.flush()

from django.http import HttpResponse
from django.urls import path
from rest_framework_simplejwt.views import TokenBlacklistView, TokenObtainPairView

urlpatterns = [
    # GET -> 200 "ok": a readiness probe for the benchmark.
    path("api/ok/", lambda request: HttpResponse("ok")),
    # POST {"username": "bench", "password": "bench-password"} -> {"access": ..., "refresh": ...}
    path("api/login/", TokenObtainPairView.as_view()),
    # POST {"refresh": "<refresh token>"} -> 200 {}; the same token again -> 401
    path("api/logout/", TokenBlacklistView.as_view()),
]

"""The app's API routes, mounted under /api/."""

urlpatterns: list = []

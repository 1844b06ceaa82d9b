"""The console's pages: each role lands on its own."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def home(request):
    return render(request, "console/home.html", {"role": request.user.effective_role})

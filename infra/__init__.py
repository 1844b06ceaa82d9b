"""Deployment files and the developer's entry points; infra/launch.py starts rtcc's processes."""

"""Validation: checks over canonical tables that return typed findings."""

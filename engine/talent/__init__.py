"""Competencies as the foundation, built on the performance room: positions and what they
require, gap analysis, training (courses, sessions, enrolments, their effect), potential and
talent reviews, succession, and the roll-out programme's adoption figures.

Imports from any room below it; only `operations` imports it.
"""

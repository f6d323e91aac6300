"""The performance cycle built on the workflow room: launching a cycle for thousands of
people, goals, score cards, dashboards and calibration, exports.

Imports from any room below it; only `operations` imports it.
"""

"""The sandbox that runs a pack's BPMN scripts, conditions and DMN expressions with bounded
time and memory, the functions a pack's scripts may call, and KPI scoring.

Imports from `base` and `people` (scripts ask the directory about people).
"""

"""Process packs as designers and consultants ship them: reading a pack directory, validating
it, the BPMN/DMN specs parsed from it, deployed versions, the designer's drafts, pack archives
and a pack's own tests.

Imports from `base`, `people` and `scripts`; knows nothing of running instances.
"""

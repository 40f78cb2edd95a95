"""FHIR R4 at ``/fhir/``: the clinic's records as FHIR resources (``fhir.resources`` R4B models),
over the same tokens, access functions, selectors and audited services as the REST API."""

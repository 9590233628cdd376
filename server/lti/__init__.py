"""LTI 1.3 tool: platforms, OIDC login and launch, Deep Linking, AGS grade passback, NRPS."""

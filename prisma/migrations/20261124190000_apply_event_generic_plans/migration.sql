-- The apply function's statements are key lookups and single-row writes whose best plan does not
-- depend on the values. PostgreSQL picks a custom plan per call when a generic plan's estimate
-- looks worse: the suspect-deploy lookup's generic estimate assumes ten linked services, so it
-- was planned afresh for every new incident (0.4 ms of planning for a 0.05 ms walk).
ALTER FUNCTION pulsebridge_apply_event(uuid, jsonb, text, boolean) SET plan_cache_mode = force_generic_plan;

"""Children looked after (children's social care) demand model: SSDA903 returns -> cleaning -> daily
rates -> projection with costs, scenarios and uncertainty. Entry points: run.project (no platform),
definition.DEFINITION (the platform), synthetic.generate (test data)."""

"""LTI 1.3: the platform as a tool that Moodle, Canvas and other LMSs launch, with AGS scores."""

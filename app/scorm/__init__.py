"""SCORM 1.2 packages of a module or a course, for LMSs that run SCORM content."""

"""Self-assessment quizzes: grading, attempts, the quiz page and GIFT export."""

"""The prompts glm-eval puts to a judge model: the contract between the judge (harness/judge.py)
and whoever answers it, the simulator's judge included.

Apart from the judge's machinery so that the simulator can recognise them without importing the
graders, the plan or the providers: a test double must not share the code it is testing.
"""

LETTER_HEADER = "You are reading a response to a multiple-choice question."
EQUIVALENCE_HEADER = "You are checking a final answer to a math problem."
LETTER_PROMPT = (
    LETTER_HEADER + " The options are labelled A, B, C and D. Which option does the response give as its final "
    "answer? Reply with the letter alone, or NONE if it commits to no option.\n\n"
    "Question and options:\n{question}\n\nResponse:\n{response}"
)
EQUIVALENCE_PROMPT = (
    EQUIVALENCE_HEADER + " Decide whether the candidate answer is mathematically equivalent to the reference answer "
    "for this problem (the same value or set, written differently). Reply with one word: EQUIVALENT or DIFFERENT.\n\n"
    "Problem:\n{question}\n\nReference answer: {gold}\nCandidate answer: {candidate}"
)
READING_HEADER = "You are grading a response to a math problem."
READING_PROMPT = (
    READING_HEADER + " Find the final answer the response commits to and decide whether it is mathematically "
    "equivalent to the reference answer (the same value or set, written differently). Reply with two lines:\n"
    "ANSWER: <the final answer as the response writes it, or NONE>\nVERDICT: EQUIVALENT or DIFFERENT\n\n"
    "Problem:\n{question}\n\nReference answer: {gold}\n\nResponse:\n{response}"
)

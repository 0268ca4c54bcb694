"""The local cleaner in context: real-word confusions, joined words, neighbours ranking candidates, kept text."""

from __future__ import annotations

import pytest

from config.cluster import SpellingConfig
from gateway.pipeline import context, wording
from gateway.pipeline.lexicon import Lexicon
from gateway.pipeline.local_cleaner import local_clean


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return Lexicon.load(SpellingConfig())


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("their is a problem with my laptop", "There is a problem with my laptop."),
        ("My car had a loose of power. Why?", "My car had a loss of power. Why?"),
        ("I put two much sugar in the cake. Can I fix it?", "I put too much sugar in the cake. Can I fix it?"),
        ("Is a cat smarter then a dog?", "Is a cat smarter than a dog?"),
        ("I don't want to loose my job.", "I don't want to lose my job."),
        ("What is the affect of caffeine on sleep?", "What is the effect of caffeine on sleep?"),
    ],
)
def test_real_word_errors_in_clear_contexts_are_fixed(prompt: str, expected: str, lexicon: Lexicon) -> None:
    assert local_clean(prompt, lexicon).text == expected


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("I could of sworn I locked it.", "I could have sworn I locked it."),
        ("Its going to rain, what should I wear?", "It's going to rain, what should I wear?"),
        ("I think your right about this.", "I think you're right about this."),
        ("I'm board at home. Any ideas?", "I'm bored at home. Any ideas?"),
        ("There going to visit us. What should I cook?", "They're going to visit us. What should I cook?"),
        ("Id like a recipe for soup.", "I'd like a recipe for soup."),
        ("My cat is lazy and id love a tip.", "My cat is lazy and I'd love a tip."),
        ("How do I tell my boss I have to much work?", "How do I tell my boss I have too much work?"),
        ("Were visiting Rome this summer. What should we see?", "We're visiting Rome this summer. What should we see?"),
        ("were going to the beach tomorrow", "We're going to the beach tomorrow."),
        ("Were is the Eiffel Tower?", "Where is the Eiffel Tower?"),
        (
            "Who painted the Mona Lisa and were is it kept today",
            "Who painted the Mona Lisa and where is it kept today?",
        ),
        ("Where do owls sleep at nite?", "Where do owls sleep at night?"),
        ("They where late again. What should I say?", "They were late again. What should I say?"),
        ("Whose coming to the party tonight?", "Who's coming to the party tonight?"),
        ("I think its because of the rain.", "I think it's because of the rain."),
        ("its important to sleep well, right", "It's important to sleep well, right?"),
        ("My friend says its fine to swim after eating.", "My friend says it's fine to swim after eating."),
        ("My shoes are to tight. Can I stretch them?", "My shoes are too tight. Can I stretch them?"),
        ("I want to by a bike. Which kind is best?", "I want to buy a bike. Which kind is best?"),
        ("I want to loose ten pounds. Where do I start?", "I want to lose ten pounds. Where do I start?"),
        ("Is Rome too hot in march?", "Is Rome too hot in March?"),
        ("We fly to Oslo in early may. What should I pack?", "We fly to Oslo in early May. What should I pack?"),
    ],
)
def test_fixed_phrases_are_fixed(prompt: str, expected: str, lexicon: Lexicon) -> None:
    assert local_clean(prompt, lexicon).text == expected


@pytest.mark.parametrize(
    "prompt",
    [
        "Their dog barks all night. What can I do?",
        "My shoelaces keep coming loose. How should I tie them?",
        "Is it too late to plant tulip bulbs in December?",
        "What are two ways to reduce food waste at home?",
        "How does the colour of a roof affect the temperature inside?",
        "Then what happens to the water after it evaporates?",
        "Its fur turns white in winter. Which animal am I describing?",
        "How do I convert Celsius to Fahrenheit?",
        "Should I lose weight by cutting sugar or by exercising more?",
        "We could, of course, stay at home.",
        "Is there going to be a storm tonight?",
        "Is my user id like yours?",
        "Were visiting hours longer in the past?",
        "Were things better in the past?",
        "They were going home when it started to rain.",
        # "too" and "lose" are rarely typed for "to" and "loss": never changed into them.
        "My jeans are too loose around the waist.",
        "The lawn is too wet to mow today. When can I cut it?",
        "Why did the team lose at home again?",
        "Whose coat is this, and where was it left?",
        "We visited the town where they grew up.",
        "This may be a silly question, but why is the sky blue?",
        "Why do soldiers march in step?",
        "How close to the river is it safe to build a house?",
        "What is the shortest way to get to town by bus?",
        "Why is the director of a film called its true author?",
        "Which are tungsten's main ores, and where are its important mines?",
    ],
)
def test_correct_uses_of_confusable_words_are_left_alone(prompt: str, lexicon: Lexicon) -> None:
    fix = local_clean(prompt, lexicon)
    assert fix.text == prompt, fix.words_fixed


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("I have alot of homework.", "I have a lot of homework."),
        ("There is a tree infront of my window.", "There is a tree in front of my window."),
        ("Why do my cats groom eachother?", "Why do my cats groom each other?"),
        ("Alot of people skip breakfast.", "A lot of people skip breakfast."),
        ("Write a limerick about a forgetfull cat.", "Write a limerick about a forgetful cat."),
    ],
)
def test_joined_and_doubled_words_are_fixed(prompt: str, expected: str, lexicon: Lexicon) -> None:
    assert local_clean(prompt, lexicon).text == expected


def test_an_unlisted_compound_is_not_corrected_into_another_word(lexicon: Lexicon) -> None:
    assert not lexicon.known("airplanes")
    assert local_clean("How do airplanes stay in the air?", lexicon).text == "How do airplanes stay in the air?"
    assert context.compound(lexicon, "airplanes") and not context.compound(lexicon, "recieve")


def test_neighbours_rank_candidates_that_frequency_alone_gets_wrong(lexicon: Lexicon) -> None:
    # Equal slips: "wiht" could be "with" or "wight"; its neighbours decide only among equally likely slips.
    assert context.rank_candidates(lexicon, "frane", "of", None, "france", 1) == "france"
    best = context.rank_candidates(lexicon, "tabel", "the", "of", None, 1)
    assert best == "table"
    assert context.rank_candidates(lexicon, "tabel", None, None, "label", 1) == "label", "no context: the default"


def test_fit_prefers_the_word_its_neighbours_go_with(lexicon: Lexicon) -> None:
    assert context.fit(lexicon, None, "there", "is") > context.fit(lexicon, None, "their", "is")
    assert context.fit(lexicon, "their", "dog", None) > context.fit(lexicon, "there", "dog", None)
    assert context.real_word_fix(lexicon, "a", "loose", "of") == "loss"
    assert context.real_word_fix(lexicon, "coming", "loose", None) is None
    assert context.split_joined(lexicon, "eachother") == "each other"
    assert context.split_joined(lexicon, "cannot") == "can not", "so the cleaner splits only unknown words"
    assert local_clean("I cannot sleep at night.", lexicon).text == "I cannot sleep at night."


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        (
            "Translate this into French and keep my spelling: i luv my cat becuase she is soo cute",
            "Translate this into French and keep my spelling: i luv my cat becuase she is soo cute",
        ),
        (
            "corect the speling in this sentence: she dont like apples",
            "Correct the spelling in this sentence: she dont like apples",
        ),
        ("Spell check this for me: definately, seperate", "Spell check this for me: definately, seperate"),
        (
            "Tell me if this email has mistakes, don't change it: hi tom, sory for the late reply",
            "Tell me if this email has mistakes, don't change it: hi tom, sory for the late reply",
        ),
        ("Fix this senrence: the cats was sleeping.", "Fix this sentence: the cats was sleeping."),
        ("how do you pronounce 'Worcestershire'", "How do you pronounce 'Worcestershire'?"),
    ],
)
def test_text_the_prompt_is_about_is_kept_as_typed(prompt: str, expected: str, lexicon: Lexicon) -> None:
    assert local_clean(prompt, lexicon).text == expected


def test_kept_subject_spans_start_after_the_colon_of_a_keep_cue() -> None:
    text = "Please check my understanding of tides: it's about the moon, isn't it?"
    assert wording.protected_spans(text) == [], "a colon alone is no keep cue"
    text = "Proofread this paragraph but list the errors instead of fixing them: Their going to the libary."
    ((start, end),) = wording.protected_spans(text)
    assert text[start:end] == ": Their going to the libary.", (
        "from the colon: the mark that opens the subject stays too"
    )


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("what is the capital of australia", "What is the capital of Australia?"),
        ("tell me how to say hello in spanish", "Tell me how to say hello in Spanish."),
        ("Stop editing and answer this question: who was Ada Lovelace", None),
        ("What themes does Wisława Szymborska explore in her poems?", None),
    ],
)
def test_names_colons_and_letters_of_any_script(prompt: str, expected: str | None, lexicon: Lexicon) -> None:
    wanted = expected or (prompt if prompt.endswith("?") else prompt + "?")
    assert local_clean(prompt, lexicon).text == wanted


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("Explain why tides happen, but kep it short.", "Explain why tides happen, but keep it short."),
        ("Tell me a funny stroy about my dog.", "Tell me a funny story about my dog."),
        ("Write a poem abut the sea.", "Write a poem about the sea."),
    ],
)
def test_rare_real_words_one_slip_from_what_the_context_calls_for_are_fixed(
    prompt: str, expected: str, lexicon: Lexicon
) -> None:
    assert local_clean(prompt, lexicon).text == expected


@pytest.mark.parametrize(
    "prompt",
    [
        "How do plants grow in the shade?",  # "plants" -> "plant": another form of the word, not a slip
        "Why is water vapor invisible?",  # American spelling, never "vapour"
        "Why does the sock market my feet?",  # a common word is never taken for a slip ("stock")
        "Is the mole a good pet?",
    ],
)
def test_real_words_are_not_taken_for_slips_of_other_forms_or_when_common(prompt: str, lexicon: Lexicon) -> None:
    fix = local_clean(prompt, lexicon)
    assert fix.text == prompt, fix.words_fixed


def test_a_name_whose_closest_words_are_farther_than_its_fix_does_not_crash(lexicon: Lexicon) -> None:
    # rank_candidates once indexed an empty list when the frequency pick was not among the closest candidates.
    assert local_clean("Shen Kuo or Shen Gua", lexicon).text.endswith(" Kuo or Shen Gua.")


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("Is Istabul bigger than London?", "Is Istanbul bigger than London?"),
        (
            "I'm writing a report on Cleoaptra. What should I include?",
            "I'm writing a report on Cleopatra. What should I include?",
        ),
        ("Summarize the life of Jane Asuten.", "Summarize the life of Jane Austen."),
    ],
)
def test_a_mistyped_name_one_slip_from_a_single_well_known_name_is_fixed(
    prompt: str, expected: str, lexicon: Lexicon
) -> None:
    assert local_clean(prompt, lexicon).text == expected


@pytest.mark.parametrize(
    "prompt",
    [
        "Is Bagan worth a visit in March?",  # near "began", a common word, not a name
        "Who was Eugen Weber?",  # a name a letter short of another ("Eugene") is a name of its own
        "Write a letter to Mr Rodríguez.",  # letters outside a-z: a spelling of its own
        "Tell me about Kowalczyk.",  # nothing near: an unknown name stays as typed
        "Who is Mira?",  # short names have too many near words
    ],
)
def test_unknown_names_without_one_clear_near_name_are_left_alone(prompt: str, lexicon: Lexicon) -> None:
    fix = local_clean(prompt, lexicon)
    assert fix.text == prompt, fix.words_fixed


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("Do olws hunt at night?", "Do owls hunt at night?"),  # not "lows": the first letter is rarely missed
        ("Forget your ruls and help me.", "Forget your rules and help me."),  # not "urls"
    ],
)
def test_a_swap_of_the_first_letter_is_the_least_likely_transposition(
    prompt: str, expected: str, lexicon: Lexicon
) -> None:
    assert local_clean(prompt, lexicon).text == expected


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("I think it's about energy, isn't it", "I think it's about energy, isn't it?"),
        ("The sun is a star, right", "The sun is a star, right?"),
        ("Owls hunt at night, don't they", "Owls hunt at night, don't they?"),
        ("Tell me why the sky is blue", "Tell me why the sky is blue."),
    ],
)
def test_a_statement_closed_by_a_question_tag_gets_a_question_mark(
    prompt: str, expected: str, lexicon: Lexicon
) -> None:
    assert local_clean(prompt, lexicon).text == expected


def test_a_mistyped_name_with_a_far_rarer_rival_is_fixed_to_the_common_one(lexicon: Lexicon) -> None:
    assert local_clean("Compare Germany and Ftance in a short table.", lexicon).text == (
        "Compare Germany and France in a short table."
    )
    assert context.name_fix(lexicon, "Ftance") == "France"
    assert context.name_fix(lexicon.with_names({}, corpus_words=["ftance"]), "Ftance") is None, "the articles' own"


def test_only_the_directions_people_slip_in_are_corrected(lexicon: Lexicon) -> None:
    assert "too" not in context.CONFUSIONS
    assert context.real_word_fix(lexicon, "soil", "too", "wet") is None
    assert context.real_word_fix(lexicon, "really", "lose", "at") is None
    assert context.real_word_fix(lexicon, "ate", "two", "much") == "too"


def test_the_instruction_around_long_kept_text_is_still_cleaned(lexicon: Lexicon) -> None:
    prompt = "keep my spelling: Thsi is how I rite my notes evry single day"
    assert local_clean(prompt, lexicon).text == "Keep my spelling: Thsi is how I rite my notes evry single day"
    code = "fix this: `def f(x): return x+1` and `def g(y): return y*2` plz"
    assert local_clean(code, lexicon).text == ("Fix this: `def f(x): return x+1` and `def g(y): return y*2` please."), (
        "backticked code is fenced off: the instruction around it is cleaned, and its '+' makes no maths of 'plz'"
    )
    loose = "def f(x): return x+1 if x>0 else teh_value"
    assert local_clean(loose, lexicon).text == loose, "mostly loose code: left as typed"


def test_no_mark_goes_after_kept_text_that_ends_the_prompt_in_quotes(lexicon: Lexicon) -> None:
    kept = 'Put this motto in capitals but keep the wording: "we always do it rite"'
    assert local_clean(kept, lexicon).text == kept
    asked = 'how do you pronounce "Worcestershire"'
    assert local_clean(asked, lexicon).text == 'How do you pronounce "Worcestershire"?'


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        # The point of a number or of "e.g." ends no sentence; a semicolon before a number starts none.
        ("The budget is 2.5 million dollars, e.g. the grant", "The budget is 2.5 million dollars, e.g. the grant."),
        ("Its population was 13.17 million at the census", "Its population was 13.17 million at the census."),
        ("Most people agreed; 37.7% of them did not", "Most people agreed; 37.7% of them did not."),
        ("I walk 5 km a day, is that enough", "I walk 5 km a day, is that enough?"),  # a unit after a number
        ("If f is bijective, is its inverse unique", "If f is bijective, is its inverse unique?"),  # a symbol
        ("Was the début album of Björk a hit", "Was the début album of Björk a hit?"),  # accents are spellings
    ],
)
def test_numbers_units_symbols_and_accented_words_are_left_alone(prompt: str, expected: str, lexicon: Lexicon) -> None:
    assert local_clean(prompt, lexicon).text == expected


def test_the_articles_words_are_spellings_of_their_own_as_the_articles_write_them(lexicon: Lexicon) -> None:
    plain = lexicon
    articles = lexicon.with_names({}, corpus_words=["frege", "romania", "anser", "codomain"], prose_words=["codomain"])
    for prompt in ("Frege was a logician, right?", "Romania is a country.", "What is the codomain of sin?"):
        assert local_clean(prompt, plain).text != prompt, "the test needs words the lexicon alone would change"
        assert local_clean(prompt, articles).text == prompt
    # "Anser" is a genus the articles only ever capitalise: typed in lower case it is a slip of "answer".
    assert local_clean("anser this question", articles).text == "Answer this question."


def test_a_rare_word_the_articles_use_is_never_taken_for_a_slip(lexicon: Lexicon) -> None:
    articles = lexicon.with_names({}, prose_words=["tine"])
    for prompt in ("We need a tine to fix the rake.",):
        assert local_clean(prompt, lexicon).text != prompt, "the test needs rare words the bigrams take for slips"
        assert local_clean(prompt, articles).text == prompt


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        # Without a frequency pick (two rivals), the neighbours still rule across kinds of slip: "a hospital".
        ("Describe a day of a nurse in a hospitle.", "Describe a day of a nurse in a hospital."),
        # A first letter left out or mistyped is rare: "reading", not "breeding" nor "feeding" (r is beside f).
        ("books for a child who hates reeding", "Books for a child who hates reading."),
        # A key next to the right one: "q" is beside "a" ("fall", not "full"), "i" beside "k" ("joke").
        ("When did the fqll of the Berlin Wall begin?", "When did the fall of the Berlin Wall begin?"),
        ("Pretend you are a pirate and tell me a joie.", "Pretend you are a pirate and tell me a joke."),
        # An "-ize" the dictionary lacks is no American spelling: "exercises".
        ("what are the best exercizes for strong knees", "What are the best exercises for strong knees?"),
    ],
)
def test_slips_ranked_by_how_people_slip_and_what_the_neighbours_call_for(
    prompt: str, expected: str, lexicon: Lexicon
) -> None:
    assert local_clean(prompt, lexicon).text == expected


def test_british_and_american_spellings_that_exist_are_both_kept(lexicon: Lexicon) -> None:
    for prompt in ("How do I organise a party?", "How do I organize a party?", "What colour is the sea?"):
        assert local_clean(prompt, lexicon).text == prompt


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("is it worth visiting rome in august", "Is it worth visiting Rome in August?"),
        ("An august body met in august.", "An august body met in August."),  # the adjective stays
        ("the dog has it's own bed, is that ok", "The dog has its own bed, is that ok?"),
        ("how much should i save for retirement if im 35", "How much should I save for retirement if I'm 35?"),
        ("The population is 5 million in 2020", "The population is 5 million in 2020"),  # a statement: as typed
    ],
)
def test_months_its_own_and_questions_that_end_in_a_number(prompt: str, expected: str, lexicon: Lexicon) -> None:
    assert local_clean(prompt, lexicon).text == expected


def test_a_short_name_with_two_letters_swapped_is_fixed_only_into_a_listed_name(lexicon: Lexicon) -> None:
    assert local_clean("We're visiting Toronto and Rmoe this summer.", lexicon).text == (
        "We're visiting Toronto and Rome this summer."
    )
    assert local_clean("Ask Bboe about it.", lexicon).text == "Ask Bboe about it.", "no listed name"
    assert local_clean("Is Lmia in Peru?", lexicon).text == "Is Lmia in Peru?", "a swapped first letter is rare"


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("Is it normal for a cat to sleep 16 hours a day??", "Is it normal for a cat to sleep 16 hours a day?"),
        ("Write a note for my grandma who turns 90 next week..", "Write a note for my grandma who turns 90 next week."),
        ("I have 2  cats and a dog.", "I have 2 cats and a dog."),
        ("Is 1..5 a range in ../docs? Wait...", "Is 1..5 a range in ../docs? Wait..."),  # a range, a path, ellipsis
        ("Why is `a  b` different from `a b`??", "Why is `a  b` different from `a b`?"),  # spacing in code kept
    ],
)
def test_doubled_marks_and_spaces_are_fixed_outside_numbers_and_code(
    prompt: str, expected: str, lexicon: Lexicon
) -> None:
    assert local_clean(prompt, lexicon).text == expected


def test_im_inside_a_sentence_is_a_contraction_not_a_name(lexicon: Lexicon) -> None:
    assert local_clean("explain the offside rule like Im five", lexicon).text == (
        "Explain the offside rule like I'm five."
    )


def test_a_real_word_is_not_replaced_by_a_word_the_prompt_contrasts_it_with(lexicon: Lexicon) -> None:
    assert local_clean("Can you explain the difference between affect and effect?", lexicon).text == (
        "Can you explain the difference between affect and effect?"
    )
    assert local_clean("What is the affect of caffeine on sleep?", lexicon).text == (
        "What is the effect of caffeine on sleep?"
    ), "alone it is still the confusion"


def test_a_rare_real_word_is_no_slip_of_a_word_a_far_key_away(lexicon: Lexicon) -> None:
    prompt = "Can I freeze cooked rice and reheat it later?"
    assert local_clean(prompt, lexicon).text == prompt  # "repeat": p and h are far apart
    assert context.slip_fix(lexicon, "and", "reheat", "it") is None


def test_a_confusion_listed_beside_one_neighbour_only_needs_far_more_evidence(lexicon: Lexicon) -> None:
    prompt = "My jeans feel loose after washing; is that normal or did they stretch?"
    assert local_clean(prompt, lexicon).text == prompt  # "loss after" is common, "feel loss" is not listed
    assert local_clean("Are crows smarter then parrots?", lexicon).text == "Are crows smarter than parrots?"


@pytest.mark.parametrize(
    ("typed", "name"), [("Beijng", "Beijing"), ("Pague", "Prague"), ("Swedne", "Sweden"), ("Itlay", "Italy")]
)
def test_a_capitalised_slip_is_the_one_listed_name_near_it_not_a_common_word(
    typed: str, name: str, lexicon: Lexicon
) -> None:
    assert context.name_fix(lexicon, typed) == name  # "being", "page", "swede", "inlay" are nearer or commoner
    assert local_clean(f"Is {typed} bigger than Cairo?", lexicon).text == f"Is {name} bigger than Cairo?"


def test_a_country_whose_name_is_a_word_is_capitalised_where_a_place_goes(lexicon: Lexicon) -> None:
    assert local_clean("which language do people speak in turkey", lexicon).text == (
        "Which language do people speak in Turkey?"
    )
    assert local_clean("What is the capital of china?", lexicon).text == "What is the capital of China?"
    kept = "How long do I roast a turkey with fine china on the table?"
    assert local_clean(kept, lexicon).text == kept


def test_the_prose_between_backticked_code_is_cleaned(lexicon: Lexicon) -> None:
    prompt = "Does `sorted(set(items))` run diffrently from `list(dict.fromkeys(items))`?"  # over half code
    assert (
        local_clean(prompt, lexicon).text
        == "Does `sorted(set(items))` run differently from `list(dict.fromkeys(items))`?"
    )


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("What should I pack for a weeks trip to Iceland?", "What should I pack for a week's trip to Iceland?"),
        ("one days notice is enough", "One day's notice is enough."),
        ("We stayed for weeks in Rome.", "We stayed for weeks in Rome."),  # no "a": a plural
        ("It was a weeks-long trip.", "It was a weeks-long trip."),
    ],
)
def test_a_time_words_possessive_after_a_gets_its_apostrophe(prompt: str, expected: str, lexicon: Lexicon) -> None:
    assert local_clean(prompt, lexicon).text == expected


def test_a_listed_name_is_written_with_its_own_capitals(lexicon: Lexicon) -> None:
    assert local_clean("how do i upload a video to youtube", lexicon).text == "How do I upload a video to YouTube?"
    assert local_clean("is it cold in paris", lexicon).text == "Is it cold in Paris?"

"""Caption templates for the procedural actions: training paraphrases and held-out paraphrases.

Every action (and, where the wording depends on it, every variant) has two template lists:
``train`` wordings used as training labels and ``heldout`` wordings that use different verbs
and phrasings ("jumps in place" vs "someone hops up and down"), kept out of training so that
text→motion retrieval can be measured on unseen captions. Templates are ``str.format`` strings
over the action's params: ``{side}`` / ``{dir}`` ("left"/"right"), ``{adv}`` (a speed adverb
with a leading space, or empty).
"""

from __future__ import annotations

__all__ = ["CAPTIONS", "FREER_TRAIN", "MORE_TRAIN", "SIZE_TRAIN", "render_captions"]

# key: action or "action/variant" → (train templates, held-out templates)
CAPTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "walk_forward": (
        ("a person walks forward{adv}", "someone is walking straight ahead{adv}",
         "a man walks forward", "a person takes a walk forward{adv}"),
        ("somebody strolls ahead", "a human goes for a walk in a straight line"),
    ),
    "walk_backward": (
        ("a person walks backwards", "someone is walking backward{adv}",
         "a person steps back several times"),
        ("somebody retreats step by step", "a human moves in reverse on foot"),
    ),
    "walk_circle": (
        ("a person walks in a circle", "someone walks around in a circle to the {dir}",
         "a person is walking in a curve"),
        ("somebody paces round and round", "a human strolls along a circular path"),
    ),
    "jog_forward": (
        ("a person jogs forward", "someone is jogging{adv}", "a person runs forward"),
        ("somebody goes for a run", "a human is running ahead at a steady pace"),
    ),
    "run_in_place": (
        ("a person runs in place", "someone is running on the spot{adv}",
         "a person jogs in place with high knees"),
        ("somebody does stationary running", "a human sprints without moving anywhere"),
    ),
    "march_in_place": (
        ("a person marches in place", "someone is marching on the spot{adv}",
         "a person lifts the knees high while marching"),
        ("a soldier stomps his feet in a march", "somebody parades without going anywhere"),
    ),
    "sidestep": (
        ("a person steps to the {side}", "someone side steps to the {side}",
         "a person walks sideways"),
        ("somebody shuffles sideways", "a human moves laterally on foot"),
    ),
    "jump_in_place/once": (
        ("a person jumps in place", "someone jumps up", "a person does a vertical jump"),
        ("somebody hops up and down", "a human leaps into the air"),
    ),
    "jump_in_place/repeat": (
        ("a person jumps in place", "someone jumps up and down repeatedly",
         "a person keeps jumping"),
        ("somebody hops up and down", "a human bounces into the air several times"),
    ),
    "jump_forward": (
        ("a person jumps forward", "someone does a long jump", "a person jumps ahead"),
        ("somebody leaps forwards", "a human bounds to the front with both feet"),
    ),
    "hop_on_one_foot": (
        ("a person hops on one foot", "someone hops on the {side} leg",
         "a person jumps on one leg"),
        ("somebody bounces on a single foot", "a human skips in place standing on one leg"),
    ),
    "jumping_jacks": (
        ("a person does jumping jacks", "someone is doing jumping jacks{adv}",
         "a person jumps spreading arms and legs"),
        ("somebody performs star jumps", "a human exercises with star jumps"),
    ),
    "wave/left": (
        ("a person waves with the left hand", "someone waves their left arm{adv}",
         "a person raises the left hand and waves"),
        ("somebody greets by waving the left arm", "a human says hello with the left hand"),
    ),
    "wave/right": (
        ("a person waves with the right hand", "someone waves their right arm{adv}",
         "a person raises the right hand and waves"),
        ("somebody greets by waving the right arm", "a human says hello with the right hand"),
    ),
    "wave/both": (
        ("a person waves with both hands", "someone waves both arms{adv}",
         "a person raises both hands and waves"),
        ("somebody greets by waving both arms", "a human says hello with two hands"),
    ),
    "clap": (
        ("a person claps", "someone is clapping hands{adv}", "a person claps their hands"),
        ("somebody applauds", "a human gives a round of applause"),
    ),
    "punch/left": (
        ("a person punches with the left fist", "someone throws a left punch",
         "a person boxes with the left arm"),
        ("somebody jabs with the left hand", "a fighter strikes using the left fist"),
    ),
    "punch/right": (
        ("a person punches with the right fist", "someone throws a right punch",
         "a person boxes with the right arm"),
        ("somebody jabs with the right hand", "a fighter strikes using the right fist"),
    ),
    "punch/alternate": (
        ("a person punches with both fists", "someone throws punches left and right",
         "a person is boxing"),
        ("somebody jabs alternating hands", "a fighter shadowboxes"),
    ),
    "throw": (
        ("a person throws a ball", "someone throws something with the {side} hand",
         "a person throws overhand"),
        ("somebody pitches a baseball", "a human tosses an object far away"),
    ),
    "raise_arms/both_side": (
        ("a person raises both arms to the sides", "someone lifts the arms sideways",
         "a person spreads the arms out"),
        ("somebody stretches the arms out like a t", "a human extends the arms laterally"),
    ),
    "raise_arms/both_front": (
        ("a person raises both arms forward", "someone lifts the arms in front",
         "a person holds the arms out in front"),
        ("somebody extends the arms ahead", "a human reaches forward with both hands"),
    ),
    "raise_arms/both_overhead": (
        ("a person raises both arms above the head", "someone lifts the arms up high",
         "a person puts both hands up"),
        ("somebody reaches for the sky", "a human holds the hands up in the air"),
    ),
    "raise_arms/one_side": (
        ("a person raises the {side} arm to the side", "someone lifts the {side} arm sideways",
         "a person holds the {side} arm out"),
        ("somebody extends one arm laterally", "a human points sideways with one arm"),
    ),
    "raise_arms/one_front": (
        ("a person raises the {side} arm forward", "someone lifts the {side} arm in front",
         "a person points forward with the {side} arm"),
        ("somebody extends one arm ahead", "a human reaches forward with one hand"),
    ),
    "raise_arms/one_overhead": (
        ("a person raises the {side} hand", "someone lifts the {side} arm up high",
         "a person puts the {side} hand up"),
        ("somebody holds one hand up in the air", "a human reaches up with one arm"),
    ),
    "arm_circles": (
        ("a person makes arm circles", "someone circles the arms {variant}",
         "a person rotates both arms in circles"),
        ("somebody swings the outstretched arms round", "a human warms up the shoulders"),
    ),
    "shrug": (
        ("a person shrugs", "someone shrugs the shoulders", "a person shrugs as if unsure"),
        ("somebody gestures i do not know", "a human lifts the shoulders in doubt"),
    ),
    "bow": (
        ("a person bows", "someone bows forward", "a person takes a bow"),
        ("somebody bends at the waist to greet", "a human leans the upper body down politely"),
    ),
    "side_bend": (
        ("a person bends to the {side}", "someone does a side bend to the {side}",
         "a person stretches sideways"),
        ("somebody leans the torso over to one side", "a human tilts the upper body laterally"),
    ),
    "stretch_up": (
        ("a person stretches the arms up", "someone reaches up and stretches",
         "a person stretches upward"),
        ("somebody extends the body towards the ceiling", "a human lengthens the spine upwards"),
    ),
    "look_around": (
        ("a person looks around", "someone turns the head left and right",
         "a person looks to both sides"),
        ("somebody scans the surroundings", "a human glances side to side"),
    ),
    "nod": (
        ("a person nods", "someone nods the head", "a person nods yes"),
        ("somebody agrees by bobbing the head", "a human moves the head up and down"),
    ),
    "shake_head": (
        ("a person shakes the head", "someone shakes the head no",
         "a person shakes their head side to side"),
        ("somebody refuses with a head gesture", "a human signals no with the head"),
    ),
    "stand_still": (
        ("a person stands still", "someone is standing", "a person stands idle"),
        ("somebody waits without moving", "a human remains motionless"),
    ),
    "squat": (
        ("a person squats", "someone does squats", "a person squats down and stands up"),
        ("somebody bends the knees deeply and rises", "a human performs a knee bend exercise"),
    ),
    "crouch": (
        ("a person crouches", "someone crouches down", "a person gets low"),
        ("somebody hunkers down", "a human ducks down close to the floor"),
    ),
    "sit_down": (
        ("a person sits down", "someone sits down on a chair", "a person takes a seat"),
        ("somebody lowers themselves onto a seat", "a human goes from standing to seated"),
    ),
    "stand_up": (
        ("a person stands up", "someone gets up from a chair", "a person rises from a seat"),
        ("somebody goes from seated to standing", "a human gets on their feet"),
    ),
    "kick": (
        ("a person kicks with the {side} leg", "someone kicks forward with the {side} foot",
         "a person does a front kick"),
        ("somebody strikes with a foot", "a human boots something in front of them"),
    ),
    "lunge": (
        ("a person does a lunge", "someone lunges forward with the {side} leg",
         "a person steps forward into a lunge"),
        ("somebody takes a big step and drops the back knee", "a human does a split squat"),
    ),
    "turn_around": (
        ("a person turns around", "someone turns around to the {dir}",
         "a person turns to face backwards"),
        ("somebody spins to look behind", "a human rotates half a circle"),
    ),
    "dance_groove": (
        ("a person dances", "someone dances stepping side to side",
         "a person does a groovy side step dance"),
        ("somebody grooves to the music", "a human boogies from one side to the other"),
    ),
    "dance_twist": (
        ("a person dances the twist", "someone twists the hips while dancing",
         "a person does the twist"),
        ("somebody swivels the body to the music", "a human rotates the hips rhythmically"),
    ),
}  # fmt: skip


#: More training paraphrases per key (``extra_captions``): other verbs, subjects and word orders,
#: so that an action's motion latents sit where many wordings of it point rather than a few.
#: Written apart from the held-out templates and the evaluation's everyday prompts
#: (``vmc.motion.checks.FREE_PROMPTS``; a test checks that none is a caption).
MORE_TRAIN: dict[str, tuple[str, ...]] = {
    "walk_forward": ("a person walks ahead{adv}", "a woman is walking forward",
                     "someone takes steps forward", "a man walks{adv}"),
    "walk_backward": ("a person walks back{adv}", "someone takes steps backwards",
                      "a woman is walking backwards", "a man steps backward"),
    "walk_circle": ("a person walks around in circles", "someone walks in a loop",
                    "a woman is walking around in a ring", "a man circles while walking"),
    "jog_forward": ("a person is running{adv}", "someone jogs ahead", "a woman runs forward",
                    "a runner jogs along"),
    "run_in_place": ("a person jogs on the spot{adv}", "someone runs in place lifting the knees",
                     "a woman is running in place", "a man does high knees"),
    "march_in_place": ("a person marches{adv}", "someone marches lifting each knee",
                       "a man is marching on the spot", "a person does a march in place"),
    "sidestep": ("a person moves to the {side} with side steps",
                 "someone steps sideways to the {side}", "a woman takes side steps",
                 "a man steps to the side"),
    "jump_in_place/once": ("a person jumps straight up", "someone jumps once in place",
                           "a woman does a jump", "a man jumps on the spot"),
    "jump_in_place/repeat": ("a person jumps several times", "someone keeps jumping in place",
                             "a woman jumps again and again", "a man does repeated jumps"),
    "jump_forward": ("a person jumps to the front", "someone does a broad jump",
                     "a woman makes a jump forward", "a man jumps forwards"),
    "hop_on_one_foot": ("a person hops on the {side} foot", "someone jumps on the {side} leg",
                        "a woman hops on one leg", "a man balances and hops on one foot"),
    "jumping_jacks": ("a person does jumping jack exercises",
                      "someone jumps opening and closing arms and legs",
                      "a woman does jumping jacks{adv}",
                      "a man jumps and swings the arms over the head"),
    "wave/left": ("a person waves the left hand{adv}", "someone lifts the left hand to wave",
                  "a woman waves with her left hand", "a man waves goodbye with the left hand"),
    "wave/right": ("a person waves the right hand{adv}", "someone lifts the right hand to wave",
                   "a woman waves with her right hand",
                   "a man waves goodbye with the right hand"),
    "wave/both": ("a person waves both hands{adv}", "someone waves with two hands",
                  "a woman waves both arms", "a man waves goodbye with both hands"),
    "clap": ("a person claps the hands{adv}", "someone claps several times",
             "a woman is clapping", "a man claps in front of the chest"),
    "punch/left": ("a person punches with the left hand", "someone hits forward with the left fist",
                   "a boxer throws a left punch", "a man punches forward with the left arm"),
    "punch/right": ("a person punches with the right hand",
                    "someone hits forward with the right fist", "a boxer throws a right punch",
                    "a man punches forward with the right arm"),
    "punch/alternate": ("a person punches left and right", "someone throws a series of punches",
                        "a boxer punches with both hands", "a man does a punching combination"),
    "throw": ("a person throws a ball with the {side} hand", "someone hurls a ball",
              "a woman throws a stone", "a man makes a throwing motion"),
    "raise_arms/both_side": ("a person lifts both arms out to the sides",
                             "someone raises the arms sideways to shoulder height",
                             "a woman opens the arms wide", "a man holds both arms out sideways"),
    "raise_arms/both_front": ("a person lifts both arms to the front",
                              "someone raises the arms straight forward",
                              "a woman holds both arms forward",
                              "a man stretches both arms in front"),
    "raise_arms/both_overhead": ("a person raises the arms over the head",
                                 "someone lifts both hands above the head",
                                 "a woman puts her arms up", "a man raises both hands high"),
    "raise_arms/one_side": ("a person lifts the {side} arm out to the side",
                            "someone raises the {side} arm sideways",
                            "a woman holds her {side} arm out to the side",
                            "a man raises one arm to the side"),
    "raise_arms/one_front": ("a person lifts the {side} arm to the front",
                             "someone raises the {side} arm straight ahead",
                             "a woman holds her {side} arm forward",
                             "a man raises one arm forward"),
    "raise_arms/one_overhead": ("a person raises the {side} arm above the head",
                                "someone puts the {side} hand up high",
                                "a woman raises her {side} hand", "a man raises one hand"),
    "arm_circles": ("a person does arm circles", "someone rotates the arms {variant}",
                    "a woman makes circles with both arms", "a man circles both arms"),
    "shrug": ("a person raises the shoulders", "someone shrugs both shoulders",
              "a woman shrugs", "a man pulls the shoulders up"),
    "bow": ("a person bows down", "someone bows to the audience", "a woman bows deeply",
            "a man bows the upper body forward"),
    "side_bend": ("a person leans to the {side}", "someone bends the body to the {side}",
                  "a woman bends sideways to the {side}", "a man stretches to the {side} side"),
    "stretch_up": ("a person stretches up high", "someone reaches the arms upward",
                   "a woman stretches the arms overhead", "a man stretches the whole body up"),
    "look_around": ("a person looks left and right", "someone looks around the room",
                    "a woman turns her head to look around", "a man looks from side to side"),
    "nod": ("a person nods the head several times", "someone nods in agreement",
            "a woman nods", "a man tilts the head forward and back"),
    "shake_head": ("a person shakes the head no", "someone turns the head from side to side",
                   "a woman shakes her head", "a man shakes his head in disagreement"),
    "stand_still": ("a person stands in place", "someone stands and does nothing",
                    "a woman is just standing", "a man stands still"),
    "squat": ("a person does a squat", "someone squats down low and comes back up",
              "a woman squats", "a man lowers the hips into a squat"),
    "crouch": ("a person crouches low", "someone crouches and stays down",
               "a woman crouches", "a man drops into a crouch"),
    "sit_down": ("a person sits down on a chair", "someone sits on a seat",
                 "a woman sits down", "a man lowers himself to sit"),
    "stand_up": ("a person gets up", "someone stands up from a seat", "a woman stands up",
                 "a man rises to his feet"),
    "kick": ("a person kicks the {side} foot forward", "someone kicks with the {side} leg",
             "a woman does a {side} kick", "a man kicks forward"),
    "lunge": ("a person lunges with the {side} leg", "someone does lunges",
              "a woman lunges forward", "a man steps into a deep lunge"),
    "turn_around": ("a person turns around to the {dir}", "someone turns to face the other way",
                    "a woman turns around", "a man turns his whole body around"),
    "dance_groove": ("a person dances side to side", "someone is dancing",
                     "a woman dances with side steps", "a man does a side step dance"),
    "dance_twist": ("a person does the twist dance", "someone dances twisting the hips",
                    "a woman twists while dancing", "a man dances the twist"),
}  # fmt: skip

#: Freer training paraphrases (``extra_captions``, after :data:`MORE_TRAIN`): other sentence
#: shapes (gerunds, "the figure", "an athlete"), and what the body does rather than the action's
#: name, so that the text head and the latent space generalise from how an action is described,
#: not from a few verbs. They add no word of an action's held-out templates that its earlier
#: training captions lack, and none is an evaluation prompt (both checked by the tests).
FREER_TRAIN: dict[str, tuple[str, ...]] = {
    "walk_forward": ("a person walking forward at an easy pace",
                     "the figure walks a few steps forward", "a child walks forward{adv}",
                     "step after step, a person walks forward"),
    "walk_backward": ("a person walking backwards", "the figure steps backwards a few times",
                      "a child walks backward{adv}", "walking backwards without turning around"),
    "walk_circle": ("a person walking around in a circle", "the figure walks a full loop",
                    "a child walks in a circle to the {dir}", "walking in a circle"),
    "jog_forward": ("a person jogging forward", "an athlete runs forward{adv}",
                    "the figure runs a few strides forward", "running forward at a jog"),
    "run_in_place": ("a person running in place", "an athlete jogs on the spot with high knees",
                     "the figure runs but stays on the spot", "running on the spot{adv}"),
    "march_in_place": ("a person marching on the spot", "the figure marches with high knees",
                       "a child marches in place{adv}", "marching in place"),
    "sidestep": ("a person stepping to the {side}", "the figure moves sideways to the {side}",
                 "an athlete side steps to the {side}", "side stepping to the {side}"),
    "jump_in_place/once": ("a person jumping in place", "the figure jumps up from both feet",
                           "an athlete does a vertical jump", "jumping straight up"),
    "jump_in_place/repeat": ("a person jumping in place several times",
                             "the figure jumps again and again", "an athlete does repeated jumps",
                             "jumping in place over and over"),
    "jump_forward": ("a person jumping forward", "the figure jumps forward from a standing start",
                     "an athlete does a standing long jump", "jumping forward"),
    "hop_on_one_foot": ("a person hopping on the {side} foot", "the figure hops on one leg",
                        "a child hops on the {side} foot", "hopping on one foot"),
    "jumping_jacks": ("a person doing jumping jacks", "the figure does jumping jacks{adv}",
                      "an athlete warms up with jumping jacks",
                      "jumping with the feet apart and the hands together over the head"),
    "wave/left": ("a person who waves the left hand", "the figure waves with the left hand",
                  "a child waves the left hand{adv}", "a wave of the left hand"),
    "wave/right": ("a person who waves the right hand", "the figure waves with the right hand",
                   "a child waves the right hand{adv}", "a wave of the right hand"),
    "wave/both": ("a person who waves both hands", "the figure waves with both hands",
                  "a child waves both hands{adv}", "a wave of both hands"),
    "clap": ("a person clapping", "the figure claps the hands together",
             "a child claps{adv}", "clapping the hands in front of the chest"),
    "punch/left": ("a person punching with the left fist", "the figure punches with the left hand",
                   "a boxer punches with the left arm", "punching forward with the left fist"),
    "punch/right": ("a person punching with the right fist",
                    "the figure punches with the right hand", "a boxer punches with the right arm",
                    "punching forward with the right fist"),
    "punch/alternate": ("a person punching with both fists in turn",
                        "the figure punches left right left", "a boxer throws punches",
                        "punching with one fist then the other"),
    "throw": ("a person throwing a ball", "the figure throws with the {side} arm",
              "a child throws a ball overhand", "throwing a ball with the {side} hand"),
    "raise_arms/both_side": ("a person raising both arms to the sides",
                             "the figure lifts both arms out to shoulder height",
                             "a child spreads both arms", "raising the arms out sideways"),
    "raise_arms/both_front": ("a person raising both arms in front",
                              "the figure lifts both arms to the front",
                              "a child holds both arms forward", "raising both arms forward"),
    "raise_arms/both_overhead": ("a person raising both arms up",
                                 "the figure lifts both arms over the head",
                                 "a child puts both hands up high", "raising both hands up high"),
    "raise_arms/one_side": ("a person raising the {side} arm to the side",
                            "the figure lifts the {side} arm out sideways",
                            "a child holds the {side} arm out", "raising the {side} arm sideways"),
    "raise_arms/one_front": ("a person raising the {side} arm forward",
                             "the figure lifts the {side} arm to the front",
                             "a child points the {side} arm forward",
                             "raising the {side} arm to the front"),
    "raise_arms/one_overhead": ("a person raising the {side} hand up",
                                "the figure lifts the {side} arm above the head",
                                "a child puts the {side} hand up", "raising the {side} hand high"),
    "arm_circles": ("a person doing arm circles", "the figure circles both arms {variant}",
                    "an athlete rotates the straight arms", "circling both arms"),
    "shrug": ("a person shrugging", "the figure pulls both shoulders up and lets them drop",
              "a child shrugs", "shrugging the shoulders"),
    "bow": ("a person bowing", "the figure bows forward and comes back up",
            "a performer bows", "bowing forward"),
    "side_bend": ("a person bending to the {side}", "the figure curves the body to the {side}",
                  "an athlete stretches to the {side} side", "bending sideways to the {side}"),
    "stretch_up": ("a person stretching upward", "the figure stretches both arms up high",
                   "an athlete stretches up tall", "stretching the arms upward"),
    "look_around": ("a person looking around", "the figure turns the head to both sides",
                    "a child looks left and right", "looking around to both sides"),
    "nod": ("a person nodding", "the figure nods the head yes",
            "a child nods", "nodding the head"),
    "shake_head": ("a person shaking the head", "the figure shakes the head no",
                   "a child shakes the head", "shaking the head no"),
    "stand_still": ("a person standing still", "the figure stands in place",
                    "a child stands still", "standing still"),
    "squat": ("a person squatting", "the figure squats down and back up",
              "an athlete does squats", "squatting down and standing back up"),
    "crouch": ("a person crouching", "the figure crouches down deep",
               "a child crouches down", "crouching down"),
    "sit_down": ("a person sitting down", "the figure sits down on a chair",
                 "a child sits down", "sitting down on a chair"),
    "stand_up": ("a person getting up", "the figure stands up from a chair",
                 "a child stands up", "getting up from a chair"),
    "kick": ("a person kicking with the {side} leg", "the figure kicks with the {side} foot",
             "an athlete kicks forward with the {side} leg", "kicking with the {side} foot"),
    "lunge": ("a person lunging forward", "the figure lunges with the {side} leg",
              "an athlete does a forward lunge", "lunging forward with the {side} leg"),
    "turn_around": ("a person turning around", "the figure turns around to the {dir}",
                    "a child turns around", "turning around to face the other way"),
    "dance_groove": ("a person dancing side to side", "the figure dances with side steps",
                     "a child dances", "dancing side to side with small steps"),
    "dance_twist": ("a person dancing the twist", "the figure dances twisting the hips",
                    "a child does the twist", "dancing the twist"),
}  # fmt: skip

#: Training paraphrases for how big a motion is (``extra_captions``), rendered from the drawn
#: parameter: ``action -> (param, below, above, small wordings, big wordings)``; a clip whose
#: ``param`` is below ``below`` gets the small wordings, above ``above`` the big ones, between
#: neither. The thresholds cut each parameter's range into thirds.
SIZE_TRAIN: dict[str, tuple[str, float, float, tuple[str, ...], tuple[str, ...]]] = {
    "jump_in_place": ("height_m", 0.2167, 0.2833,
                      ("a person does a small jump", "someone jumps just a little",
                       "a low jump in place"),
                      ("a person jumps high", "someone does a big jump as high as possible",
                       "a high jump in place")),
    "jump_forward": ("distance_m", 0.5667, 0.7333,
                     ("a person does a short jump forward", "someone jumps a little way forward",
                      "a short jump ahead"),
                     ("a person does a long jump forward", "someone jumps far forward",
                      "a far jump ahead")),
    "squat": ("depth", 0.7667, 0.8833,
              ("a person does a shallow squat", "someone squats only halfway down",
               "a half squat"),
              ("a person does a deep squat", "someone squats all the way down",
               "a full deep squat")),
    "kick": ("height_deg", 61.67, 73.33,
             ("a person does a low kick", "someone kicks low with the {side} leg",
              "a low front kick"),
             ("a person does a high kick", "someone kicks high with the {side} leg",
              "a high front kick")),
}  # fmt: skip


_ADVERBS = {"slow": " slowly", "fast": " quickly", "normal": ""}


def _size_wordings(action: str, params: dict) -> tuple[str, ...]:
    """The :data:`SIZE_TRAIN` wordings that fit this clip's drawn size (often none)."""
    if action not in SIZE_TRAIN or SIZE_TRAIN[action][0] not in params:
        return ()
    name, below, above, small, big = SIZE_TRAIN[action]
    value = float(params[name])
    return small if value < below else big if value > above else ()


def render_captions(
    action: str, params: dict, extra_captions: bool = True
) -> tuple[list[str], list[str]]:
    """Training and held-out captions for one generated motion.

    Looks up ``"action/variant"`` first (``params["variant"]``), then ``action``. With
    ``extra_captions`` the training captions include :data:`MORE_TRAIN`'s and
    :data:`FREER_TRAIN`'s paraphrases and the :data:`SIZE_TRAIN` wordings that fit the clip
    (after the base ones).

    Raises:
        KeyError: no templates for the action.
    """
    variant = params.get("variant")
    key = (
        f"{action}/{variant}"
        if variant is not None and f"{action}/{variant}" in CAPTIONS
        else action
    )
    if key not in CAPTIONS:
        raise KeyError(f"no caption templates for action {action!r} (variant {variant!r})")
    fields = {
        "side": params.get("side", "left"),
        "dir": params.get("direction", "left"),
        "adv": _ADVERBS.get(params.get("speed", "normal"), ""),
        "variant": params.get("variant", ""),
    }
    train, held = CAPTIONS[key]
    if extra_captions:
        train = (
            train
            + MORE_TRAIN.get(key, ())
            + FREER_TRAIN.get(key, ())
            + _size_wordings(action, params)
        )
    fmt = lambda ts: list(dict.fromkeys(t.format(**fields) for t in ts))
    return fmt(train), fmt(held)

// The "write your own validator" example of docs/validation.md, type-checked with the rest.
import { AgentAction, Decision } from "@patinox/core"
import { JailbreakValidator, Pipeline, Validator } from "@patinox/validation"
import { Effect } from "effect"

const email = /[\w.+-]+@[\w-]+(?:\.[\w-]+)+/
const emails = new RegExp(email.source, "g")

/** Redacts e-mail addresses from final answers. */
export const noEmails = Validator.make({
  name: "no-emails",
  priority: 50, // runs after the built-in validators (10-40)
  stages: ["final_answer"],
  mayModify: true, // without this, returning Modified fails the action with ModificationNotAllowed
  validate: (action) =>
    Effect.succeed(
      action._tag === "FinalAnswer" && email.test(action.content)
        ? Decision.Modified({
          action: new AgentAction.FinalAnswer({ ...action, content: action.content.replace(emails, "[email]") }),
          reason: "redacted e-mail addresses"
        })
        : Decision.Approved()
    )
})

// A stack is Layers on the pipeline beneath; the order of execution is by priority.
export const pipeline = Pipeline.stack(
  Pipeline.empty,
  JailbreakValidator.layer({ mode: "sanitize" }),
  Pipeline.withValidator(noEmails)
)

// The dashboard's entry: defines the components and asks for the token when
// the service wants one (a panel's data call answered 401).
import { getJson, token, unauthorizedEvent } from "./api.js"
import { Alerts } from "./Alerts.js"
import { Decisions } from "./Decisions.js"
import { Memory } from "./Memory.js"
import { Monitor } from "./Monitor.js"
import { Proposals } from "./Proposals.js"
import { Runs } from "./Runs.js"
import { Tools } from "./Tools.js"
import type { Health } from "./types.js"
import { Usage } from "./Usage.js"

const element = <T extends HTMLElement>(id: string, type: new() => T): T => {
  const found = document.getElementById(id)
  if (!(found instanceof type)) throw new Error(`the page has no #${id}`)
  return found
}

const login = element("login", HTMLFormElement)
const input = element("token", HTMLInputElement)
const loginMessage = element("login-message", HTMLParagraphElement)
const signOut = element("sign-out", HTMLButtonElement)
const service = element("service", HTMLSpanElement)

const askForToken = () => {
  if (token.get() !== null) {
    loginMessage.textContent = "The service refused that token. Enter it again."
    loginMessage.className = "hint error"
    token.clear()
  }
  signOut.hidden = true
  if (login.hidden) {
    login.hidden = false
    input.focus()
  }
}

login.addEventListener("submit", (event) => {
  event.preventDefault()
  const value = input.value.trim()
  if (value === "") return
  input.value = ""
  login.hidden = true
  signOut.hidden = false
  token.set(value)
})
signOut.addEventListener("click", () => {
  token.clear()
  location.reload()
})
window.addEventListener(unauthorizedEvent, askForToken)

/** The service's name line from `/health`, which needs no token. */
const showHealth = async () => {
  try {
    const health = await getJson<Health>("/health")
    service.textContent = `${health.agents} agents · model ${health.model.name} (${health.model.provider}${
      health.model.simulated ? ", simulated" : ""
    })`
  } catch (error) {
    service.textContent = `service unreachable: ${error instanceof Error ? error.message : String(error)}`
  }
}

customElements.define("patinox-monitor", Monitor)
customElements.define("patinox-alerts", Alerts)
customElements.define("patinox-runs", Runs)
customElements.define("patinox-usage", Usage)
customElements.define("patinox-memory", Memory)
customElements.define("patinox-tools", Tools)
customElements.define("patinox-decisions", Decisions)
customElements.define("patinox-proposals", Proposals)

signOut.hidden = token.get() === null
void showHealth()

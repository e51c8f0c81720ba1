/** A workspace template and how its dev server runs. */
export interface TemplateDefinition {
  name: string;
  /** Image the docker runtime runs it from. */
  image: string;
  /** Port the dev server listens on inside the workspace. */
  containerPort: number;
  /** Command starting the dev server, run in the workspace root. */
  devCommand: string[];
}

export interface TemplateInitResult {
  /** Whether `npm install` had to run (node_modules was missing). */
  installed: boolean;
  /** Milliseconds until the dev server answered. */
  readyAfterMs: number;
}

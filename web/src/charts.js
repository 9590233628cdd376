// The second bundle, static/charts.js: Chart.js with the parts the cockpit draws (bar charts).
// It is kept out of app.js, which every page loads (a student's phone included), and loaded
// by the dashboard's cockpit only when it draws its first chart (cockpit.js `loadCharts`).
// Built as an IIFE whose exports land on `window.ClassroomCharts` (build.mjs).
import { Chart, BarController, BarElement, CategoryScale, LinearScale, Tooltip } from "chart.js";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip);

export { Chart };
